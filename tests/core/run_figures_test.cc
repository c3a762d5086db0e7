#include "core/run_figures.h"

#include <gtest/gtest.h>

namespace agentbudget::core {
namespace {

TEST(RunFiguresTest, CostPerSuccessfulRunDividesTheWholeSpendBySuccesses) {
  RunOutcomes runs;
  runs.spend_micros = 10'000'000;  // successful, failed and subagent runs alike
  runs.finished = 5;
  runs.succeeded = 4;
  EXPECT_EQ(CostPerSuccessfulRun(runs), Money::FromMicros(2'500'000));
}

TEST(RunFiguresTest, CostPerRoundsHalfUpToTheMicroDollar) {
  EXPECT_EQ(CostPer(5, 2), Money::FromMicros(3));  // 2.5 → 3
  EXPECT_EQ(CostPer(4, 3), Money::FromMicros(1));  // 1.33 → 1
  EXPECT_EQ(CostPer(5, 3), Money::FromMicros(2));  // 1.67 → 2
}

TEST(RunFiguresTest, NoOutcomeMeansNoUnitCost) {
  RunOutcomes runs;
  runs.spend_micros = 7;
  EXPECT_EQ(CostPerSuccessfulRun(runs), std::nullopt);
  EXPECT_EQ(CostPerMergedPr(runs), std::nullopt);
}

TEST(RunFiguresTest, CostPerMergedPrDividesByMergedRuns) {
  RunOutcomes runs;
  runs.spend_micros = 9'000'000;
  runs.succeeded = 3;
  runs.merged = 2;
  EXPECT_EQ(CostPerMergedPr(runs), Money::FromMicros(4'500'000));
}

TEST(RunFiguresTest, SharesArePercentWithOneDecimalRoundedHalfUp) {
  EXPECT_EQ((Share{7, 8}).Percent(), "87.5");
  EXPECT_EQ((Share{1, 3}).Percent(), "33.3");
  EXPECT_EQ((Share{2, 3}).Percent(), "66.7");
  EXPECT_EQ((Share{1, 0}).Percent(), std::nullopt);
  EXPECT_EQ((Share{1, 4}).Ratio(), 0.25);
}

TEST(RunFiguresTest, DegradedShareIsOfTheCallsLetThrough) {
  EXPECT_EQ(DegradedShare(3, 1).Percent(), "25.0");
  EXPECT_EQ(DegradedShare(0, 0).Percent(), std::nullopt);
}

TEST(RunFiguresTest, TokenYieldAndSuccessRateReadTheirCounts) {
  RunOutcomes runs;
  runs.finished = 4;
  runs.succeeded = 3;
  runs.good_tokens = 900;
  runs.all_tokens = 1000;
  EXPECT_EQ(SuccessRate(runs).Percent(), "75.0");
  EXPECT_EQ(TokenYield(runs).Percent(), "90.0");
}

}  // namespace
}  // namespace agentbudget::core
