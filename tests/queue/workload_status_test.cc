#include "operator/queue/workload_status.h"

#include <gtest/gtest.h>

namespace agentbudget::queue {
namespace {

using nlohmann::json;

WorkloadTally Busy() {
  WorkloadTally tally;
  tally.active = 3;
  tally.queued = 7;
  tally.admitted = 40;
  tally.runs.finished = 8;
  tally.runs.succeeded = 7;
  tally.runs.merged = 5;
  tally.runs.good_tokens = 600;
  tally.runs.all_tokens = 900;
  tally.runs.spend_micros = 31'250'000;
  tally.calls = 160;
  tally.fallback_calls = 20;
  return tally;
}

TEST(WorkloadStatusTest, WritesCountsRatiosAndSpend) {
  const json status = WorkloadStatusPatch(Busy(), 4);
  EXPECT_EQ(status["activeRuns"], 3);
  EXPECT_EQ(status["queuedRuns"], 7);
  EXPECT_EQ(status["admittedRuns"], 40);
  EXPECT_EQ(status["observedGeneration"], 4);
  EXPECT_EQ(status["spend"], "31.25");
  EXPECT_EQ(status["successRate"], "87.5");
  // The whole month's spend over the successes (core::CostPerSuccessfulRun).
  EXPECT_EQ(status["costPerSuccessfulRun"], "4.464286");
  EXPECT_EQ(status["costPerMergedPr"], "6.25");
  EXPECT_EQ(status["lowCostTierShare"], "12.5");
  EXPECT_EQ(status["tokenYield"], "66.7");
}

TEST(WorkloadStatusTest, NeverWritesFieldsOthersOwn) {
  // rejectedRuns is the webhook's: a merge patch without it leaves it alone.
  EXPECT_FALSE(WorkloadStatusPatch(Busy(), 4).contains("rejectedRuns"));
}

TEST(WorkloadStatusTest, RemovesRatiosWithoutADenominator) {
  WorkloadTally tally;
  tally.queued = 2;
  const json status = WorkloadStatusPatch(tally, 1);
  EXPECT_EQ(status["spend"], "0");
  for (const char* ratio : {"successRate", "costPerSuccessfulRun", "costPerMergedPr",
                            "lowCostTierShare", "tokenYield"}) {
    ASSERT_TRUE(status.contains(ratio)) << ratio;
    EXPECT_TRUE(status[ratio].is_null()) << ratio;
  }
  EXPECT_FALSE(tally.SuccessRatio());
  EXPECT_FALSE(tally.LowCostTierRatio());
}

TEST(WorkloadStatusTest, RatiosAsFractionsForMetrics) {
  const WorkloadTally tally = Busy();
  EXPECT_DOUBLE_EQ(*tally.SuccessRatio(), 0.875);
  EXPECT_DOUBLE_EQ(*tally.CostPerSuccessfulRun(), 4.464286);
  EXPECT_DOUBLE_EQ(*tally.CostPerMergedPr(), 6.25);
  EXPECT_DOUBLE_EQ(*tally.LowCostTierRatio(), 0.125);
  EXPECT_DOUBLE_EQ(*tally.TokenYieldRatio(), 600.0 / 900.0);
}

TEST(WorkloadStatusTest, StatusHoldsComparesOnlyWhatThePatchWrites) {
  WorkloadTally tally;
  tally.active = 1;
  const json patch = WorkloadStatusPatch(tally, 2);
  json status = {{"observedGeneration", 2}, {"activeRuns", 1},   {"queuedRuns", 0},
                 {"admittedRuns", 0},       {"spend", "0"},      {"rejectedRuns", 9}};
  EXPECT_TRUE(StatusHolds(status, patch));
  status["successRate"] = "50.0";  // stale: the patch removes it
  EXPECT_FALSE(StatusHolds(status, patch));
  status.erase("successRate");
  status["activeRuns"] = 2;
  EXPECT_FALSE(StatusHolds(status, patch));
  EXPECT_FALSE(StatusHolds(json(), patch));
}

TEST(WorkloadStatusTest, TallyMonthTakesTheMonthsFiguresFromTheLedger) {
  authority::WorkloadSpend spend;
  spend.cost_micros = 9'000'000;
  spend.calls_by_model = {{"claude-sonnet-4-5", 6}, {"claude-haiku-4-5-20251001", 2}};
  spend.ended = {3, 2, 1, 300, 800};
  WorkloadTally tally;
  tally.active = 1;
  TallyMonth(spend, {"claude-haiku-4-5"}, tally);
  EXPECT_EQ(tally.active, 1);
  EXPECT_EQ(tally.runs.spend_micros, 9'000'000);
  EXPECT_EQ(tally.calls, 8);
  EXPECT_EQ(tally.fallback_calls, 2);
  const json status = WorkloadStatusPatch(tally, 1);
  EXPECT_EQ(status["successRate"], "66.7");
  EXPECT_EQ(status["costPerSuccessfulRun"], "4.5");
  EXPECT_EQ(status["costPerMergedPr"], "9");
  EXPECT_EQ(status["lowCostTierShare"], "25.0");
  EXPECT_EQ(status["tokenYield"], "37.5");
}

TEST(WorkloadStatusTest, FallbackCallsMatchNamesAndDatedIds) {
  const std::map<std::string, int64_t> calls = {{"claude-sonnet-4-5", 30},
                                                {"claude-haiku-4-5-20251001", 12},
                                                {"claude-haiku-4-5", 5},
                                                {"gpt-5.4-mini", 2}};
  EXPECT_EQ(FallbackCalls(calls, {"claude-haiku-4-5"}), 17);
  EXPECT_EQ(FallbackCalls(calls, {"claude-haiku-4-5-20251001", "gpt-5.4-mini"}), 19);
  EXPECT_EQ(FallbackCalls(calls, {}), 0);
}

TEST(WorkloadConditionsTest, UnmeteredPodsAreCountedWithAnExample) {
  GovernanceFacts facts;
  facts.unmetered = 3;
  facts.example_pod = "team-a/bare";
  facts.generation = 2;
  const core::SysSeconds now{std::chrono::seconds{1'800'000'000}};
  const json conditions = WorkloadConditions(facts, json(), now);
  ASSERT_EQ(conditions.size(), 1u);
  EXPECT_EQ(conditions[0]["type"], "Unmetered");
  EXPECT_EQ(conditions[0]["status"], "True");
  EXPECT_EQ(conditions[0]["observedGeneration"], 2);
  EXPECT_EQ(conditions[0]["lastTransitionTime"], "2027-01-15T08:00:00Z");
  const std::string message = conditions[0]["message"];
  EXPECT_NE(message.find("3 running pods"), std::string::npos) << message;
  EXPECT_NE(message.find("team-a/bare"), std::string::npos) << message;
}

TEST(WorkloadConditionsTest, TransitionTimeChangesOnlyWithTheStatus) {
  GovernanceFacts facts;
  facts.unmetered = 1;
  facts.example_pod = "team-a/a";
  const core::SysSeconds then{std::chrono::seconds{1'800'000'000}};
  const json first = WorkloadConditions(facts, json(), then);
  facts.unmetered = 2;
  const json more = WorkloadConditions(facts, first, then + std::chrono::hours{1});
  EXPECT_EQ(more[0]["lastTransitionTime"], first[0]["lastTransitionTime"]);
  EXPECT_FALSE(ConditionsHold(first, more)) << "the count changed";
  facts.unmetered = 0;
  const json cleared = WorkloadConditions(facts, more, then + std::chrono::hours{2});
  EXPECT_EQ(cleared[0]["status"], "False");
  EXPECT_EQ(cleared[0]["lastTransitionTime"], "2027-01-15T10:00:00Z");
}

TEST(WorkloadConditionsTest, RunCostAnomalyAppearsOnceARunWasJudged) {
  GovernanceFacts facts;
  const core::SysSeconds now{std::chrono::seconds{1'800'000'000}};
  EXPECT_EQ(WorkloadConditions(facts, json(), now).size(), 1u) << "nothing judged yet";
  facts.runs_judged = true;
  facts.cost_anomaly = "run r-9 cost 9 USD, more than 300% of the median 1 USD";
  json conditions = WorkloadConditions(facts, json(), now);
  ASSERT_EQ(conditions.size(), 2u);
  EXPECT_EQ(conditions[1]["type"], "RunCostAnomaly");
  EXPECT_EQ(conditions[1]["status"], "True");
  EXPECT_EQ(conditions[1]["reason"], "CostAboveMedian");
  EXPECT_EQ(conditions[1]["message"], facts.cost_anomaly);
  facts.cost_anomaly.clear();
  conditions = WorkloadConditions(facts, conditions, now);
  EXPECT_EQ(conditions[1]["status"], "False");
  EXPECT_EQ(conditions[1]["reason"], "UsualCost");
}

TEST(WorkloadConditionsTest, ApprovalWithoutApproversIsReported) {
  GovernanceFacts facts;
  facts.approval_required = true;
  const core::SysSeconds now{std::chrono::seconds{1'800'000'000}};
  json conditions = WorkloadConditions(facts, json(), now);
  ASSERT_EQ(conditions.size(), 2u);
  EXPECT_EQ(conditions[1]["type"], "NoApprovers");
  EXPECT_EQ(conditions[1]["status"], "True");
  facts.approvers_listed = true;
  EXPECT_EQ(WorkloadConditions(facts, json(), now)[1]["status"], "False");
  facts.approval_required = false;
  EXPECT_EQ(WorkloadConditions(facts, json(), now).size(), 1u);
}

TEST(WorkloadConditionsTest, HoldIgnoresTransitionTimesButNotAnythingElse) {
  GovernanceFacts facts;
  const core::SysSeconds now{std::chrono::seconds{1'800'000'000}};
  const json conditions = WorkloadConditions(facts, json(), now);
  EXPECT_TRUE(ConditionsHold(conditions,
                             WorkloadConditions(facts, json(), now + std::chrono::hours{1})));
  facts.generation = 5;
  EXPECT_FALSE(ConditionsHold(conditions, WorkloadConditions(facts, json(), now)));
  EXPECT_FALSE(ConditionsHold(json(), conditions));
  EXPECT_FALSE(ConditionsHold(json::parse(R"([{"type":"Unmetered"}])"), conditions));
}

}  // namespace
}  // namespace agentbudget::queue
