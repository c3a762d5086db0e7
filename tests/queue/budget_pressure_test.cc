#include "operator/queue/budget_pressure.h"

#include <gtest/gtest.h>

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

class BudgetPressureTest : public ::testing::Test {
 protected:
  core::Pressure Payments() {
    std::string budget;
    return pressure_.For({{"team", "payments"}}, {}, &budget);
  }
  BudgetPressure pressure_;
};

TEST_F(BudgetPressureTest, MatchingBudgetAppliesItsPressure) {
  pressure_.Update({Budget("Queue", "91%")});
  std::string budget;
  EXPECT_EQ(pressure_.For({{"team", "payments"}}, {}, &budget), core::Pressure::kQueue);
  EXPECT_EQ(budget, "payments");
  EXPECT_EQ(pressure_.For({{"team", "search"}}, {}, &budget), core::Pressure::kNone);
  EXPECT_EQ(budget, "");
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

TEST(ParsePressureTest, ReadsStatusNames) {
  EXPECT_EQ(ParsePressure("Queue"), core::Pressure::kQueue);
  EXPECT_EQ(ParsePressure("Exhausted"), core::Pressure::kExhausted);
  EXPECT_EQ(ParsePressure("nonsense"), core::Pressure::kNone);
}

}  // namespace
}  // namespace agentbudget::queue
