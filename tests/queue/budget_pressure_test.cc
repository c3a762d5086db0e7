#include "operator/queue/budget_pressure.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "core/time_format.h"
#include "operator/authority/budget_state.h"
#include "operator/budgets/budget_status.h"

namespace agentbudget::queue {
namespace {

using nlohmann::json;

json Budget(const std::string& pressure, const std::string& utilization, int generation = 1) {
  json budget = json::parse(R"({"apiVersion": "agentbudget.io/v1alpha1", "kind": "AgentBudget",
    "metadata": {"name": "payments"},
    "spec": {"selector": {"matchLabels": {"team": "payments"}}, "period": "Month",
             "limit": {"amount": "100"}, "pressure": {"degradeAt": 80, "queueAt": 90}}})");
  budget["metadata"]["generation"] = generation;
  budget["status"] = {{"pressure", pressure}, {"utilization", utilization}};
  return budget;
}

// The payments budget with a limit per user, at the fullest user's pressure, its status
// listing `top` ({user, utilization}) of `keys` users.
json PerUser(const std::vector<std::pair<std::string, int>>& top, int keys,
             const std::string& pressure = "Queue", const std::string& utilization = "92%") {
  json budget = Budget(pressure, utilization);
  budget["spec"]["perKey"] = "user";
  budget["status"]["topKeys"] = json::array();
  for (const auto& [user, percent] : top) {
    budget["status"]["topKeys"].push_back(
        {{"key", user}, {"spent", "1"}, {"utilization", std::to_string(percent) + "%"}});
  }
  budget["status"]["keys"] = keys;
  return budget;
}

class BudgetPressureTest : public ::testing::Test {
 protected:
  core::Pressure Of(core::Labels attribution) {
    return pressure_.For({{std::move(attribution), {}}}).at(0);
  }
  core::Pressure Payments() { return Of({{"team", "payments"}}); }
  core::Pressure User(const std::string& user) { return Of({{"team", "payments"}, {"user", user}}); }
  BudgetPressure pressure_;
};

TEST_F(BudgetPressureTest, MatchingBudgetAppliesItsPressure) {
  pressure_.Update({Budget("Queue", "91%")});
  EXPECT_EQ(pressure_.For({{{{"team", "payments"}}, {}}, {{{"team", "search"}}, {}}}),
            (std::vector<core::Pressure>{core::Pressure::kQueue, core::Pressure::kNone}));
}

TEST_F(BudgetPressureTest, ReadsEverySpendOfABatchAtOneInstant) {
  // One thread settles the budget back and forth while another reads batches of the same
  // spend: a batch that saw two pressures would let an admission pass free later runs
  // while it still holds earlier ones.
  pressure_.Update({Budget("Queue", "91%")});
  std::atomic<bool> done{false};
  std::thread settler([&] {
    for (int i = 0; !done; ++i) {
      pressure_.Upsert(i % 2 == 0 ? Budget("None", "0%") : Budget("Queue", "91%"));
    }
  });
  const std::vector<BudgetPressure::Spend> spends(64, {{{"team", "payments"}}, {}});
  int mixed = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::vector<core::Pressure> pressures = pressure_.For(spends);
    mixed += std::ranges::count(pressures, pressures.front()) != std::ssize(pressures);
  }
  done = true;
  settler.join();
  EXPECT_EQ(mixed, 0) << "batches that mixed two pressures";
}

TEST_F(BudgetPressureTest, ABudgetInShadowModeHoldsAndSuspendsNothing) {
  json observed = Budget("Exhausted", "100%");
  observed["spec"]["onExhausted"] = "Observe";
  pressure_.Update({observed});
  EXPECT_EQ(Payments(), core::Pressure::kNone);
  EXPECT_EQ(pressure_.OfBudget("payments", {{"team", "payments"}}, {}), core::Pressure::kNone);
  EXPECT_TRUE(pressure_.AtLeast(core::Pressure::kQueue).empty());
  EXPECT_TRUE(pressure_.Upsert(Budget("Exhausted", "100%", 2))) << "enforced from then on";
  EXPECT_EQ(Payments(), core::Pressure::kExhausted);
}

TEST_F(BudgetPressureTest, PressureFallsOnlyPastTheMargin) {
  pressure_.Update({Budget("Queue", "91%")});
  pressure_.Update({Budget("Degrade", "89%")});
  EXPECT_EQ(Payments(), core::Pressure::kQueue);
  pressure_.Update({Budget("Degrade", "85%")});
  EXPECT_EQ(Payments(), core::Pressure::kDegrade);
}

TEST_F(BudgetPressureTest, RemovedBudgetNoLongerPresses) {
  pressure_.Update({Budget("Exhausted", "100%")});
  pressure_.Update({});
  EXPECT_EQ(Payments(), core::Pressure::kNone);
}

TEST_F(BudgetPressureTest, InvalidBudgetIsSkipped) {
  json bad = Budget("Exhausted", "100%");
  bad["spec"]["limit"] = "lots";
  pressure_.Update({bad});
  EXPECT_EQ(Payments(), core::Pressure::kNone);
}

TEST_F(BudgetPressureTest, UpsertReportsAChangeOnlyWhenWhatTheBudgetAppliesChanged) {
  EXPECT_TRUE(pressure_.Upsert(Budget("Queue", "91%")));
  EXPECT_FALSE(pressure_.Upsert(Budget("Queue", "92%")));
  EXPECT_FALSE(pressure_.Upsert(Budget("Degrade", "89%"))) << "held by the hysteresis";
  EXPECT_TRUE(pressure_.Upsert(Budget("Degrade", "85%")));
  EXPECT_TRUE(pressure_.Upsert(Budget("Degrade", "85%", 2))) << "a new spec";
  EXPECT_TRUE(pressure_.Remove("payments"));
  EXPECT_FALSE(pressure_.Remove("payments"));
}

TEST_F(BudgetPressureTest, OneBudgetsPressureAppliesOnlyToTheSpendItCharges) {
  pressure_.Upsert(Budget("Queue", "91%"));
  EXPECT_EQ(pressure_.OfBudget("payments", {{"team", "payments"}}, {}), core::Pressure::kQueue);
  EXPECT_EQ(pressure_.OfBudget("payments", {{"team", "search"}}, {}), core::Pressure::kNone);
  EXPECT_EQ(pressure_.AtLeast(core::Pressure::kQueue), std::vector<std::string>{"payments"});
  EXPECT_TRUE(pressure_.AtLeast(core::Pressure::kExhausted).empty());
}

TEST_F(BudgetPressureTest, APerKeyBudgetPressesEachKeysWorkWithThatKeysOwnPressure) {
  pressure_.Update({PerUser({{"alice", 92}, {"bob", 81}}, 2)});
  EXPECT_EQ(User("alice"), core::Pressure::kQueue);
  EXPECT_EQ(User("bob"), core::Pressure::kDegrade);
  EXPECT_EQ(User("carol"), core::Pressure::kNone) << "no spend this period";
  EXPECT_EQ(pressure_.OfBudget("payments", {{"team", "payments"}, {"user", "bob"}}, {}),
            core::Pressure::kDegrade);
  EXPECT_EQ(pressure_.AtLeast(core::Pressure::kQueue), std::vector<std::string>{"payments"})
      << "the budget is as pressed as its fullest key";
}

TEST_F(BudgetPressureTest, AKeyNotListedIsPressedAsTheLowestListedKey) {
  std::vector<std::pair<std::string, int>> top;
  for (int i = 0; i < 20; ++i) {
    top.emplace_back("user" + std::to_string(i), 99 - i / 2);  // 99% down to 90%
  }
  pressure_.Update({PerUser(top, 25)});
  EXPECT_EQ(User("user0"), core::Pressure::kQueue);
  EXPECT_EQ(User("zed"), core::Pressure::kQueue) << "spent no more than 90%, maybe as much";
  pressure_.Update({PerUser(top, 20)});
  EXPECT_EQ(User("zed"), core::Pressure::kNone) << "every key is listed";
}

TEST_F(BudgetPressureTest, ReadsAtMostTwentyKeysOfAStatusAndPressesTheRestAsTheLowestRead) {
  std::vector<std::pair<std::string, int>> top;
  for (int i = 0; i < 30; ++i) {
    top.emplace_back("user" + std::to_string(i), i < 20 ? 95 : 10);
  }
  pressure_.Update({PerUser(top, 30)});
  EXPECT_EQ(User("user19"), core::Pressure::kQueue);
  EXPECT_EQ(User("user25"), core::Pressure::kQueue)
      << "past the 20th entry a key is not read: it spent no more than the lowest read";
}

TEST_F(BudgetPressureTest, WithoutTopKeysTheFullestKeysPressureAppliesToEveryKey) {
  json budget = PerUser({}, 0);
  budget["status"].erase("topKeys");
  budget["status"].erase("keys");
  pressure_.Update({budget});
  EXPECT_EQ(User("carol"), core::Pressure::kQueue);
}

TEST_F(BudgetPressureTest, ReadsEachKeysPressureFromTheStatusTheBudgetControllerWrites) {
  json budget = PerUser({}, 0);
  const core::SysSeconds now = *core::ParseRfc3339("2026-12-05T12:00:00Z");
  authority::BudgetState state(*core::ParseAgentBudget(budget), now);
  state.Spend("alice", 92'000'000, now);  // of 100 USD per user
  state.Spend("bob", 81'000'000, now);
  budget["status"] = budgets::BuildBudgetStatus(state.Snapshot(now), {}, json(), now).status;
  pressure_.Update({budget});
  EXPECT_EQ(User("alice"), core::Pressure::kQueue);
  EXPECT_EQ(User("bob"), core::Pressure::kDegrade);
  EXPECT_EQ(User("carol"), core::Pressure::kNone);
}

TEST_F(BudgetPressureTest, AKeysPressureFallsOnlyPastTheMargin) {
  pressure_.Update({PerUser({{"alice", 95}, {"bob", 91}}, 2)});
  pressure_.Update({PerUser({{"alice", 95}, {"bob", 89}}, 2)});
  EXPECT_EQ(User("bob"), core::Pressure::kQueue);
  pressure_.Update({PerUser({{"alice", 95}, {"bob", 85}}, 2)});
  EXPECT_EQ(User("bob"), core::Pressure::kDegrade);
}

TEST_F(BudgetPressureTest, UpsertReportsAChangeOfOneKeysPressure) {
  EXPECT_TRUE(pressure_.Upsert(PerUser({{"alice", 92}, {"bob", 50}}, 2)));
  EXPECT_FALSE(pressure_.Upsert(PerUser({{"alice", 93}, {"bob", 60}}, 2)));
  EXPECT_TRUE(pressure_.Upsert(PerUser({{"alice", 93}, {"bob", 91}}, 2)))
      << "the budget's pressure is unchanged, bob's is not";
  EXPECT_EQ(User("bob"), core::Pressure::kQueue);
}

TEST_F(BudgetPressureTest, APerKeyBudgetInShadowModePressesNoKey) {
  json observed = PerUser({{"alice", 100}}, 1, "Exhausted", "100%");
  observed["spec"]["onExhausted"] = "Observe";
  pressure_.Update({observed});
  EXPECT_EQ(User("alice"), core::Pressure::kNone);
}

TEST(ParsePressureTest, ReadsStatusNames) {
  EXPECT_EQ(ParsePressure("Queue"), core::Pressure::kQueue);
  EXPECT_EQ(ParsePressure("Exhausted"), core::Pressure::kExhausted);
  EXPECT_EQ(ParsePressure("nonsense"), core::Pressure::kNone);
}

}  // namespace
}  // namespace agentbudget::queue
