#include "core/admission_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace agentbudget::core {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

HeldRun Held(std::string key, int64_t created, WorkPriority priority = WorkPriority::kStandard) {
  HeldRun run;
  run.key = std::move(key);
  run.workload = "ci/agents";
  run.priority = priority;
  run.created_millis = created;
  return run;
}

HeldRun Subagent(std::string key, int64_t created, std::string parent) {
  HeldRun run = Held(std::move(key), created);
  run.parent_run = std::move(parent);
  run.parent_workload = "ci/agents";
  return run;
}

std::vector<std::string> Keys(const std::vector<Hold>& holds) {
  std::vector<std::string> keys;
  for (const Hold& hold : holds) {
    keys.push_back(hold.key);
  }
  return keys;
}

TEST(AdmissionPlanTest, AdmitsByPriorityThenCreationOrder) {
  auto plan = PlanAdmission({Held("ci/late", 30), Held("ci/deferred", 10, WorkPriority::kDeferrable),
                             Held("ci/early", 20), Held("ci/release", 40, WorkPriority::kReleaseBlocking)},
                            {}, {});
  EXPECT_THAT(plan.admit, ElementsAre("ci/release", "ci/early", "ci/late", "ci/deferred"));
  EXPECT_THAT(plan.hold, IsEmpty());
}

TEST(AdmissionPlanTest, HoldsRunsBeyondMaxParallelRunsWithTheirPositions) {
  WorkloadCaps caps;
  caps.max_parallel_runs = 3;
  ActiveWork active;
  active.runs_by_workload["ci/agents"] = 1;
  auto plan = PlanAdmission({Held("ci/a", 1), Held("ci/b", 2), Held("ci/c", 3), Held("ci/d", 4)},
                            {{"ci/agents", caps}}, active);
  EXPECT_THAT(plan.admit, ElementsAre("ci/a", "ci/b"));
  ASSERT_EQ(plan.hold.size(), 2U);
  EXPECT_EQ(plan.hold[0].key, "ci/c");
  EXPECT_EQ(plan.hold[0].reason, HoldReason::kWaitingForParallelism);
  EXPECT_EQ(plan.hold[0].position, 1);
  EXPECT_EQ(plan.hold[1].position, 2);
  EXPECT_EQ(plan.hold[0].message, "workload ci/agents has 3 of maxParallelRuns 3 running");
}

TEST(AdmissionPlanTest, FanOutIsAdmittedInBatchesOfMaxParallelSubagents) {
  WorkloadCaps caps;
  caps.max_parallel_subagents = 2;
  std::vector<HeldRun> held;
  for (int i = 0; i < 5; ++i) {
    held.push_back(Subagent("ci/sub-" + std::to_string(i), i, "run-1"));
  }
  ActiveWork active;
  active.subagents_by_run["run-1"] = 1;
  auto plan = PlanAdmission(held, {{"ci/agents", caps}}, active);
  EXPECT_THAT(plan.admit, ElementsAre("ci/sub-0"));
  EXPECT_EQ(plan.hold.size(), 4U);
  EXPECT_EQ(plan.hold[0].message, "run run-1 has 2 of maxParallelSubagents 2 running");
}

TEST(AdmissionPlanTest, SubagentsDoNotCountAgainstMaxParallelRuns) {
  WorkloadCaps caps;
  caps.max_parallel_runs = 1;
  ActiveWork active;
  active.runs_by_workload["ci/agents"] = 1;
  auto plan = PlanAdmission({Subagent("ci/sub", 1, "run-1")}, {{"ci/agents", caps}}, active);
  EXPECT_THAT(plan.admit, ElementsAre("ci/sub"));
}

TEST(AdmissionPlanTest, TotalSubagentCapHoldsTheExcessEvenWithFreeParallelism) {
  WorkloadCaps caps;
  caps.max_subagents = 3;
  caps.max_parallel_subagents = 10;
  ActiveWork active;
  active.subagents_ever_by_run["run-1"] = 2;
  auto plan = PlanAdmission({Subagent("ci/x", 1, "run-1"), Subagent("ci/y", 2, "run-1")},
                            {{"ci/agents", caps}}, active);
  EXPECT_THAT(plan.admit, ElementsAre("ci/x"));
  ASSERT_EQ(plan.hold.size(), 1U);
  EXPECT_EQ(plan.hold[0].message, "run run-1 has created 3 of maxSubagents 3");
}

TEST(AdmissionPlanTest, UnapprovedRunsWaitWithoutTakingCapacity) {
  WorkloadCaps caps;
  caps.max_parallel_runs = 1;
  caps.approval_required = true;
  HeldRun approved = Held("ci/approved", 2);
  approved.approved = true;
  auto plan = PlanAdmission({Held("ci/waiting", 1), approved}, {{"ci/agents", caps}}, {});
  EXPECT_THAT(plan.admit, ElementsAre("ci/approved"));
  ASSERT_EQ(plan.hold.size(), 1U);
  EXPECT_EQ(plan.hold[0].reason, HoldReason::kAwaitingApproval);
}

TEST(AdmissionPlanTest, QueuePressureHoldsOnlyDeferrableWork) {
  std::vector<HeldRun> held = {Held("ci/deferrable", 1, WorkPriority::kDeferrable),
                               Held("ci/standard", 2), Held("ci/release", 3, WorkPriority::kReleaseBlocking)};
  for (HeldRun& run : held) {
    run.pressure = Pressure::kQueue;
  }
  auto plan = PlanAdmission(held, {}, {});
  EXPECT_THAT(plan.admit, ElementsAre("ci/release", "ci/standard"));
  ASSERT_EQ(plan.hold.size(), 1U);
  EXPECT_EQ(plan.hold[0].reason, HoldReason::kBudgetPressure);
}

TEST(AdmissionPlanTest, ExhaustionHoldsEveryPriority) {
  std::vector<HeldRun> held = {Held("ci/standard", 1), Held("ci/release", 2, WorkPriority::kReleaseBlocking)};
  for (HeldRun& run : held) {
    run.pressure = Pressure::kExhausted;
  }
  auto plan = PlanAdmission(held, {}, {});
  EXPECT_THAT(plan.admit, IsEmpty());
  EXPECT_THAT(Keys(plan.hold), ElementsAre("ci/release", "ci/standard"));
  EXPECT_EQ(plan.hold[0].reason, HoldReason::kBudgetExhausted);
}

TEST(AdmissionPlanTest, OnlyDeferrableRunsAreSuspendedUnderPressure) {
  EXPECT_TRUE(SuspendForPressure(WorkPriority::kDeferrable, Pressure::kQueue));
  EXPECT_TRUE(SuspendForPressure(WorkPriority::kDeferrable, Pressure::kExhausted));
  EXPECT_FALSE(SuspendForPressure(WorkPriority::kDeferrable, Pressure::kDegrade));
  EXPECT_FALSE(SuspendForPressure(WorkPriority::kStandard, Pressure::kExhausted));
  EXPECT_FALSE(SuspendForPressure(WorkPriority::kReleaseBlocking, Pressure::kExhausted));
}

TEST(AdmissionPlanTest, PressureRisesAtOnceButFallsOnlyPastTheMargin) {
  PressurePolicy policy;  // degradeAt 80, queueAt 90
  EXPECT_EQ(SettlePressure(Pressure::kNone, Pressure::kQueue, 90, policy), Pressure::kQueue);
  EXPECT_EQ(SettlePressure(Pressure::kQueue, Pressure::kDegrade, 89, policy), Pressure::kQueue);
  EXPECT_EQ(SettlePressure(Pressure::kQueue, Pressure::kDegrade, 88, policy), Pressure::kDegrade);
  EXPECT_EQ(SettlePressure(Pressure::kQueue, Pressure::kNone, 50, policy), Pressure::kNone);
  EXPECT_EQ(SettlePressure(Pressure::kExhausted, Pressure::kQueue, 99, policy),
            Pressure::kExhausted);
  EXPECT_EQ(SettlePressure(Pressure::kExhausted, Pressure::kDegrade, 89, policy),
            Pressure::kQueue);
}

TEST(AdmissionPlanTest, NamesEveryHoldReasonAsTheDesignSpellsIt) {
  EXPECT_EQ(HoldReasonName(HoldReason::kWaitingForParallelism), "WaitingForParallelism");
  EXPECT_EQ(HoldReasonName(HoldReason::kBudgetPressure), "BudgetPressure");
  EXPECT_EQ(HoldReasonName(HoldReason::kAwaitingApproval), "AwaitingApproval");
  EXPECT_EQ(HoldReasonName(HoldReason::kBudgetExhausted), "BudgetExhausted");
}

}  // namespace
}  // namespace agentbudget::core
