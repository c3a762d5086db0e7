#include "operator/queue/run_cost_anomalies.h"

#include <gtest/gtest.h>

namespace agentbudget::queue {
namespace {

class RunCostAnomaliesTest : public ::testing::Test {
 protected:
  // Ends `n` usual runs of `workload`, each costing $1.
  void Usual(const std::string& workload, int n) {
    for (int i = 0; i < n; ++i) {
      EXPECT_FALSE(anomalies_.Judge(workload, workload + "-usual-" + std::to_string(next_++),
                                    1'000'000));
    }
  }
  RunCostAnomalies anomalies_{300};
  int next_ = 0;
};

TEST_F(RunCostAnomaliesTest, ARunPastTheMultipleIsReportedAndBecomesTheLatest) {
  Usual("team/review", 5);
  EXPECT_FALSE(anomalies_.Latest("team/review"));
  const auto anomaly = anomalies_.Judge("team/review", "r-big", 3'500'000);
  ASSERT_TRUE(anomaly);
  EXPECT_EQ(anomaly->Describe(),
            "run r-big cost 3.5 USD, more than 300% of the median 1 USD of this workflow's last "
            "5 finished runs");
  ASSERT_TRUE(anomalies_.Latest("team/review"));
  EXPECT_EQ(anomalies_.Latest("team/review")->run, "r-big");
  Usual("team/review", 1);
  EXPECT_FALSE(anomalies_.Latest("team/review")) << "the latest run cost as usual";
  EXPECT_TRUE(anomalies_.Judged("team/review"));
}

TEST_F(RunCostAnomaliesTest, EachWorkloadHasItsOwnBaseline) {
  Usual("team/review", 5);
  EXPECT_FALSE(anomalies_.Judged("team/nightly"));
  EXPECT_FALSE(anomalies_.Judge("team/nightly", "n-1", 50'000'000)) << "no runs before it";
}

TEST_F(RunCostAnomaliesTest, StateIsBoundedPerWorkloadAndDroppedWithIt) {
  Usual("team/review", 500);
  Usual("team/nightly", 5);
  EXPECT_EQ(anomalies_.workloads(), 2U);
  anomalies_.Forget("team/review");
  EXPECT_EQ(anomalies_.workloads(), 1U);
  EXPECT_FALSE(anomalies_.Judged("team/review"));
}

}  // namespace
}  // namespace agentbudget::queue
