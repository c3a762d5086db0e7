#include "operator/budgets/budget_status.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace agentbudget::budgets {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using authority::BudgetSnapshot;

const core::SysSeconds kNow{seconds{1'795'780'800}};  // 2026-11-27T12:00:00Z

BudgetSnapshot Snapshot(int64_t spent_dollars) {
  BudgetSnapshot snapshot;
  snapshot.name = "team";
  snapshot.generation = 4;
  snapshot.limit.amount = 100'000'000;
  snapshot.window = {kNow - seconds{3600}, kNow + seconds{3600}};
  snapshot.spent = spent_dollars * 1'000'000;
  snapshot.remaining = snapshot.limit.amount - snapshot.spent;
  snapshot.utilization = static_cast<int>(spent_dollars);
  snapshot.pressure = spent_dollars >= 100 ? core::Pressure::kExhausted
                      : spent_dollars >= 80 ? core::Pressure::kDegrade
                                            : core::Pressure::kNone;
  return snapshot;
}

const std::vector<int> kAlerts{50, 80, 95};

TEST(BudgetStatusTest, StatusFillsEveryPrinterColumn) {
  auto update = BuildBudgetStatus(Snapshot(42), kAlerts, json(), kNow);
  for (const char* field : {"limit", "spent", "utilization", "burnRatePerHour", "forecast", "pressure"}) {
    EXPECT_TRUE(update.status.contains(field)) << field;
  }
  EXPECT_EQ(update.status["limit"], "100 USD");
  EXPECT_EQ(update.status["spent"], "42");
  EXPECT_EQ(update.status["utilization"], "42%");
  EXPECT_EQ(update.status["observedGeneration"], 4);
}

TEST(BudgetStatusTest, PerKeyStatusShowsTheLimitPerKeyTopKeysAndKeysOverEachAlert) {
  BudgetSnapshot snapshot = Snapshot(84);
  snapshot.per_key = "user";
  snapshot.limit.amount = 2'500'000;
  snapshot.spent = 5'940'000;  // the total over every engineer
  snapshot.keys = 3;
  snapshot.top_keys = {{"alice", 2'100'000, 84}, {"bob", 1'300'000, 52}};
  snapshot.keys_over_alert = {{50, 2}, {80, 1}, {95, 0}};
  auto update = BuildBudgetStatus(snapshot, kAlerts, json(), kNow);
  EXPECT_EQ(update.status["limit"], "2.5 USD per user");
  EXPECT_EQ(update.status["spent"], "5.94");
  EXPECT_EQ(update.status["keys"], 3);
  EXPECT_EQ(update.status["topKeys"][0]["key"], "alice");
  EXPECT_EQ(update.status["keysOverAlert"],
            json::parse(R"([{"threshold":"50%","keys":2},{"threshold":"80%","keys":1},)"
                        R"({"threshold":"95%","keys":0}])"));
  EXPECT_NE(update.events.at(0).message.find("84% of 2.5 USD per user (the fullest user)"),
            std::string::npos)
      << update.events.at(0).message;
}

TEST(BudgetStatusTest, ASharedBudgetHasNoPerKeyFields) {
  auto update = BuildBudgetStatus(Snapshot(42), kAlerts, json(), kNow);
  for (const char* field : {"topKeys", "keys", "keysOverAlert"}) {
    EXPECT_FALSE(update.status.contains(field)) << field;
  }
}

TEST(BudgetStatusTest, CrossingAThresholdEmitsOneEventAndRepeatsEmitNone) {
  auto first = BuildBudgetStatus(Snapshot(55), kAlerts, json(), kNow);
  ASSERT_EQ(first.events.size(), 1U);
  EXPECT_EQ(first.events[0].reason, "SoftLimitReached");
  EXPECT_NE(first.events[0].message.find("crossed 50%"), std::string::npos);
  auto again = BuildBudgetStatus(Snapshot(60), kAlerts, first.status, kNow + seconds{5});
  EXPECT_TRUE(again.events.empty());
  auto next = BuildBudgetStatus(Snapshot(81), kAlerts, again.status, kNow + seconds{10});
  ASSERT_EQ(next.events.size(), 1U);
  EXPECT_NE(next.events[0].message.find("crossed 80%"), std::string::npos);
}

TEST(BudgetStatusTest, ExhaustionEmitsItsOwnEventOnce) {
  auto exhausted = BuildBudgetStatus(Snapshot(100), kAlerts, BuildBudgetStatus(Snapshot(96), kAlerts, json(), kNow).status, kNow);
  ASSERT_EQ(exhausted.events.size(), 1U);
  EXPECT_EQ(exhausted.events[0].reason, "Exhausted");
  EXPECT_TRUE(BuildBudgetStatus(Snapshot(100), kAlerts, exhausted.status, kNow).events.empty());
}

TEST(BudgetStatusTest, ConditionsKeepTheirTransitionTimeWhileUnchanged) {
  auto first = BuildBudgetStatus(Snapshot(85), kAlerts, json(), kNow);
  auto later = BuildBudgetStatus(Snapshot(86), kAlerts, first.status, kNow + seconds{60});
  for (const auto& condition : later.status["conditions"]) {
    EXPECT_EQ(condition["lastTransitionTime"], "2026-11-27T12:00:00Z") << condition.dump();
  }
  auto pressure = std::find_if(later.status["conditions"].begin(), later.status["conditions"].end(),
                               [](const json& c) { return c["type"] == "UnderPressure"; });
  EXPECT_EQ((*pressure)["status"], "True");
  EXPECT_EQ((*pressure)["reason"], "Degrade");
}

TEST(BudgetStatusTest, NewPeriodStartsWithNoThresholdReached) {
  auto old = BuildBudgetStatus(Snapshot(90), kAlerts, json(), kNow);
  BudgetSnapshot next = Snapshot(55);
  next.window = {kNow + seconds{3600}, kNow + seconds{7200}};
  auto update = BuildBudgetStatus(next, kAlerts, old.status, kNow + seconds{3700});
  ASSERT_EQ(update.events.size(), 1U);
  EXPECT_NE(update.events[0].message.find("crossed 50%"), std::string::npos);
}

}  // namespace
}  // namespace agentbudget::budgets
