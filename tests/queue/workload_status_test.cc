#include "operator/queue/workload_status.h"

#include <gtest/gtest.h>

namespace agentbudget::queue {
namespace {

using nlohmann::json;

TEST(WorkloadStatusTest, WritesCountsAndRatiosKeepingOtherFields) {
  const WorkloadTally tally{3, 7, 40, 8, 7, 14'000'000, 600, 900};
  const json status = WorkloadStatus({{"spend", "12.5"}}, tally, 4);
  EXPECT_EQ(status["spend"], "12.5");
  EXPECT_EQ(status["activeRuns"], 3);
  EXPECT_EQ(status["queuedRuns"], 7);
  EXPECT_EQ(status["admittedRuns"], 40);
  EXPECT_EQ(status["observedGeneration"], 4);
  EXPECT_EQ(status["successRate"], "87.5");
  EXPECT_EQ(status["costPerSuccessfulRun"], "2");
  EXPECT_EQ(status["tokenYield"], "66.7");
}

TEST(WorkloadStatusTest, LeavesOutRatiosWithoutFinishedRuns) {
  const json status = WorkloadStatus(json(), WorkloadTally{0, 2, 0, 0, 0, 0, 0, 0}, 1);
  EXPECT_FALSE(status.contains("successRate"));
  EXPECT_FALSE(status.contains("costPerSuccessfulRun"));
  EXPECT_FALSE(status.contains("tokenYield"));
}

}  // namespace
}  // namespace agentbudget::queue
