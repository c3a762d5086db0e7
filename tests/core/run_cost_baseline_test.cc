#include "core/run_cost_baseline.h"

#include <gtest/gtest.h>

namespace agentbudget::core {
namespace {

class RunCostBaselineTest : public ::testing::Test {
 protected:
  // Adds runs "r0".."r<n-1>", each costing `cost`.
  void Fill(int n, int64_t cost) {
    for (int i = 0; i < n; ++i) {
      baseline_.Judge("r" + std::to_string(next_++), cost, 300);
    }
  }
  RunCostBaseline baseline_;
  int next_ = 0;
};

TEST_F(RunCostBaselineTest, NoJudgementBeforeEnoughRuns) {
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(baseline_.Judge("r" + std::to_string(i), 1'000'000 * (i + 1), 300)) << i;
  }
  const auto judged = baseline_.Judge("r5", 100'000'000, 300);
  ASSERT_TRUE(judged);
  EXPECT_TRUE(judged->anomalous);
  EXPECT_EQ(judged->median, 3'000'000);
  EXPECT_EQ(judged->runs, 5U);
}

TEST_F(RunCostBaselineTest, ARunPastTheMultipleOfTheMedianIsAnomalous) {
  Fill(9, 1'000'000);
  EXPECT_FALSE(baseline_.Judge("at", 3'000'000, 300)->anomalous) << "exactly 3x is not past it";
  EXPECT_TRUE(baseline_.Judge("past", 3'000'001, 300)->anomalous);
  EXPECT_FALSE(baseline_.Judge("lenient", 3'000'001, 400)->anomalous);
}

TEST_F(RunCostBaselineTest, OneOutlierDoesNotMoveTheMedian) {
  Fill(10, 1'000'000);
  baseline_.Judge("huge", 900'000'000, 300);
  EXPECT_EQ(baseline_.Judge("next", 1'000'000, 300)->median, 1'000'000);
}

TEST_F(RunCostBaselineTest, ARunReportedAgainIsNotJudgedTwice) {
  Fill(6, 1'000'000);
  ASSERT_TRUE(baseline_.Judge("twice", 9'000'000, 300));
  EXPECT_FALSE(baseline_.Judge("twice", 9'000'000, 300));
  EXPECT_EQ(baseline_.size(), 7U);
}

TEST_F(RunCostBaselineTest, TheWindowHoldsAFixedNumberOfRunsAndForgetsTheOldest) {
  Fill(10, 1'000'000);
  Fill(static_cast<int>(RunCostBaseline::kWindow) * 3, 5'000'000);
  EXPECT_EQ(baseline_.size(), RunCostBaseline::kWindow);
  // The cheap runs have left the window: the median is the recent cost.
  EXPECT_EQ(baseline_.Judge("now", 5'000'000, 300)->median, 5'000'000);
}

}  // namespace
}  // namespace agentbudget::core
