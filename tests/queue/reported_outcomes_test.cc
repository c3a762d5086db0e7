#include "operator/queue/reported_outcomes.h"

#include <gtest/gtest.h>

namespace agentbudget::queue {
namespace {

TEST(ReportedOutcomesTest, EachOutcomeOfARunIsClaimedOnce) {
  ReportedOutcomes reported;
  EXPECT_TRUE(reported.Claim("ci/review", "run-1", "Succeeded"));
  EXPECT_FALSE(reported.Claim("ci/review", "run-1", "Succeeded"));
  EXPECT_TRUE(reported.Claim("ci/review", "run-1", "merged"));
  reported.Release("ci/review", "run-1", "merged");  // its report failed
  EXPECT_TRUE(reported.Claim("ci/review", "run-1", "merged"));
}

TEST(ReportedOutcomesTest, FloodOfUniqueRunsIsBoundedByTheRunsStillCached) {
  ReportedOutcomes reported;
  constexpr int kCached = 25;
  std::set<std::string> cached;
  for (int run = 0; run < 20'000; ++run) {
    const std::string id = "run-" + std::to_string(run);
    reported.Claim("ci/review", id, "Succeeded");
    reported.Claim("ci/review", id, "merged");
    cached.insert(id);
    if (cached.size() > kCached) {
      cached.erase(cached.begin());  // its Job was deleted
    }
    reported.Retain("ci/review", cached);
    ASSERT_LE(reported.size(), 2u * kCached);
  }
  reported.Retain("ci/review", {});
  EXPECT_EQ(reported.size(), 0u);
}

}  // namespace
}  // namespace agentbudget::queue
