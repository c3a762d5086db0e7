// Drives a budget's calls around a threshold, as a busy fleet does, and counts how often
// its pressure, conditions and the calls' decisions change.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "core/budget_decision.h"
#include "operator/authority/budget_state.h"
#include "operator/budgets/budget_status.h"

namespace agentbudget::budgets {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const core::SysSeconds kStart{seconds{1'795'780'800}};  // 2026-11-27T12:00:00Z

std::map<std::string, std::string> Conditions(const json& status) {
  std::map<std::string, std::string> conditions;
  for (const json& condition : status["conditions"]) {
    conditions[condition["type"].get<std::string>()] = condition["status"].get<std::string>();
  }
  return conditions;
}

TEST(ConditionStabilityTest, CallsInFlightAroundTheThresholdChangeEachConditionOnce) {
  // $100 a day; degrade and alert at 60 %, queue at 90 %.
  core::BudgetSpec spec =
      core::ParseAgentBudget(json{{"metadata", {{"name", "team"}}},
                                  {"spec",
                                   {{"limit", {{"amount", "100"}}},
                                    {"period", "Day"},
                                    {"alerts", {60}},
                                    {"pressure", {{"degradeAt", 60}, {"queueAt", 90}}}}}})
          .value();
  authority::BudgetState state(spec, kStart);
  core::SysSeconds now = kStart;
  state.Spend("", 57'000'000, now);

  json status;
  std::map<std::string, int> transitions;
  int pressure_changes = 0;
  int decision_changes = 0;
  int used_crossings = 0;  // how often spent + reserved crossed 60 %
  bool used_above = false;
  core::Decision last_decision = core::Decision::kAllow;
  const auto observe = [&] {
    const authority::BudgetSnapshot snapshot = state.Snapshot(now);
    const bool above = snapshot.utilization + snapshot.reserved_utilization >= 60;
    used_crossings += above != used_above ? 1 : 0;
    used_above = above;
    BudgetStatusUpdate update = BuildBudgetStatus(snapshot, spec.alerts, status, now);
    if (!status.is_null()) {
      const auto before = Conditions(status);
      for (const auto& [type, value] : Conditions(update.status)) {
        transitions[type] += before.at(type) != value ? 1 : 0;
      }
      pressure_changes += status["pressure"] != update.status["pressure"] ? 1 : 0;
    }
    status = std::move(update.status);
    core::DecisionRequest request;
    request.model = "claude-sonnet-4-5";
    request.fallback = {"claude-sonnet-4-5", "claude-haiku-4-5"};
    request.estimate_micros = 1'000'000;
    request.envelopes.push_back(state.View("", now));
    const core::Decision decision = core::Decide(request).decision;
    decision_changes += decision != last_decision ? 1 : 0;
    last_decision = decision;
  };

  // Each round, four calls reserve $1 each and commit $0.125: committed spend creeps from
  // 57 % to 61 % while what is reserved swings it 4 points up and back every round.
  observe();
  for (int round = 0; round < 8; ++round) {
    for (int call = 0; call < 4; ++call) {
      state.Hold("", 1'000'000);
    }
    now += seconds{5};
    observe();
    for (int call = 0; call < 4; ++call) {
      state.Unhold("", 1'000'000);
      state.Spend("", 125'000, now);
    }
    now += seconds{5};
    observe();
  }

  ASSERT_GE(used_crossings, 10) << "the drive must swing spent + reserved across 60 % repeatedly";
  EXPECT_EQ(status["utilization"], "61%");
  EXPECT_EQ(status["pressure"], "Degrade");
  EXPECT_EQ(pressure_changes, 1);
  EXPECT_EQ(transitions["SoftLimitReached"], 1);
  EXPECT_EQ(transitions["UnderPressure"], 1);
  EXPECT_EQ(transitions["Exhausted"], 0);
  EXPECT_EQ(transitions["Ready"], 0);
  EXPECT_EQ(decision_changes, 1) << "calls degrade from the crossing on, and stay degraded";
}

TEST(ConditionStabilityTest, ReservationsAreShownApartFromCommittedSpend) {
  core::BudgetSpec spec = core::ParseAgentBudget(json{{"metadata", {{"name", "team"}}},
                                                      {"spec", {{"limit", {{"amount", "100"}}}}}})
                              .value();
  authority::BudgetState state(spec, kStart);
  state.Spend("", 40'000'000, kStart);
  state.Hold("", 30'000'000);
  const json status =
      BuildBudgetStatus(state.Snapshot(kStart), {}, json(), kStart).status;
  EXPECT_EQ(status["spent"], "40");
  EXPECT_EQ(status["reserved"], "30");
  EXPECT_EQ(status["utilization"], "40%");
  EXPECT_EQ(status["reservedUtilization"], "30%");
  EXPECT_EQ(status["remaining"], "30");
  EXPECT_EQ(status["pressure"], "None");
}

}  // namespace
}  // namespace agentbudget::budgets
