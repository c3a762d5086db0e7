#include "core/budget_decision.h"

#include <gtest/gtest.h>

namespace agentbudget::core {
namespace {

using nlohmann::json;

BudgetSpec Budget(const char* name, json spec) {
  return ParseAgentBudget(json{{"metadata", {{"name", name}}}, {"spec", std::move(spec)}}).value();
}

class DecideTest : public ::testing::Test {
 protected:
  // A $100 budget: degrade at 80%, 10% reserved for ReleaseBlocking work.
  BudgetSpec team_ = Budget("team", {{"limit", {{"amount", "100"}}},
                                     {"pressure", {{"degradeAt", 80}, {"reserveForReleaseBlocking", 10}}}});

  DecisionRequest Request(double spent_dollars, int64_t estimate_micros,
                          WorkPriority priority = WorkPriority::kStandard) {
    DecisionRequest request;
    request.priority = priority;
    request.model = "claude-opus-4-1";
    request.fallback = {"claude-sonnet-4-5", "claude-haiku-4-5"};
    request.estimate_micros = estimate_micros;
    request.envelopes.push_back(
        {"budget team", &team_, static_cast<int64_t>(spent_dollars * 1'000'000), 0, 0});
    return request;
  }
};

TEST_F(DecideTest, SpendWellBelowEveryThresholdIsAllowedOnTheRequestedModel) {
  auto outcome = Decide(Request(10, 1'000'000));
  EXPECT_EQ(outcome.decision, Decision::kAllow);
  EXPECT_EQ(outcome.model, "claude-opus-4-1");
}

TEST_F(DecideTest, StandardWorkAtDegradeAtFallsBackToTheFirstFallback) {
  auto outcome = Decide(Request(80, 1'000'000));
  EXPECT_EQ(outcome.decision, Decision::kDegrade);
  EXPECT_EQ(outcome.model, "claude-sonnet-4-5");
  EXPECT_NE(outcome.reason.find("budget team at 80%"), std::string::npos);
}

TEST_F(DecideTest, ReservationsInFlightDoNotDegrade) {
  auto request = Request(70, 1'000'000);
  request.envelopes[0].reserved = 15'000'000;  // 85 % with what is in flight
  EXPECT_EQ(Decide(request).decision, Decision::kAllow);
}

TEST_F(DecideTest, DegradedModelStepsDownFromTheRequestedFallback) {
  auto request = Request(85, 1'000'000);
  request.model = "claude-sonnet-4-5";
  EXPECT_EQ(Decide(request).model, "claude-haiku-4-5");
}

TEST_F(DecideTest, CheapestModelUnderPressureIsAllowedRatherThanDegraded) {
  auto request = Request(85, 1'000'000);
  request.model = "claude-haiku-4-5";
  EXPECT_EQ(Decide(request).decision, Decision::kAllow);
}

TEST_F(DecideTest, ReleaseBlockingWorkIsNotDegraded) {
  EXPECT_EQ(Decide(Request(85, 1'000'000, WorkPriority::kReleaseBlocking)).decision,
            Decision::kAllow);
}

TEST_F(DecideTest, StandardWorkIsDeniedTheReservedSlice) {
  auto outcome = Decide(Request(89.5, 1'000'000));
  EXPECT_EQ(outcome.decision, Decision::kDeny);
  EXPECT_NE(outcome.reason.find("reserved for ReleaseBlocking"), std::string::npos);
}

TEST_F(DecideTest, ReleaseBlockingWorkMaySpendTheReservedSlice) {
  EXPECT_EQ(Decide(Request(95, 1'000'000, WorkPriority::kReleaseBlocking)).decision,
            Decision::kAllow);
}

TEST_F(DecideTest, ReservationThatWouldPassTheLimitIsDeniedEvenForReleaseBlocking) {
  auto outcome = Decide(Request(99.5, 1'000'000, WorkPriority::kReleaseBlocking));
  EXPECT_EQ(outcome.decision, Decision::kDeny);
  EXPECT_NE(outcome.reason.find("budget team exhausted"), std::string::npos);
}

TEST_F(DecideTest, ObserveModeRecordsWouldBeDenialsWithoutDenying) {
  BudgetSpec shadow = Budget("shadow", {{"limit", {{"amount", "1"}}}, {"onExhausted", "Observe"}});
  auto request = Request(10, 2'000'000);
  request.envelopes.push_back({"budget shadow", &shadow, 0, 0, 0});
  auto outcome = Decide(request);
  EXPECT_EQ(outcome.decision, Decision::kAllow);
  ASSERT_EQ(outcome.observed.size(), 1U);
  EXPECT_NE(outcome.observed[0].find("would deny: budget shadow"), std::string::npos);
}

TEST_F(DecideTest, EveryEnvelopeIsCheckedAndTheFirstDenialNamesIt) {
  BudgetSpec per_user = Budget("per-user", {{"limit", {{"amount", "5"}}}, {"perKey", "user"}});
  auto request = Request(10, 1'000'000);
  request.envelopes.push_back({"budget per-user (user=alice)", &per_user, 4'500'000, 0, 0});
  auto outcome = Decide(request);
  EXPECT_EQ(outcome.decision, Decision::kDeny);
  EXPECT_NE(outcome.reason.find("per-user (user=alice) exhausted"), std::string::npos);
}

TEST_F(DecideTest, TokenBudgetsAreCheckedAgainstTheTokenEstimate) {
  BudgetSpec tokens = Budget("tokens", {{"limit", {{"tokens", 1000}}}});
  auto request = Request(0, 1);
  request.estimate_tokens = 1001;
  request.envelopes = {{"budget tokens", &tokens, 0, 0, 0}};
  EXPECT_EQ(Decide(request).decision, Decision::kDeny);
  request.estimate_tokens = 1000;
  EXPECT_EQ(Decide(request).decision, Decision::kAllow);
}

TEST_F(DecideTest, ForecastOverTheLimitDegradesWhenEnabled) {
  BudgetSpec forecasting = Budget(
      "forecasting", {{"limit", {{"amount", "100"}}}, {"pressure", {{"forecast", true}}}});
  auto request = Request(0, 1);
  request.envelopes = {{"budget forecasting", &forecasting, 10'000'000, 0, 150'000'000}};
  auto outcome = Decide(request);
  EXPECT_EQ(outcome.decision, Decision::kDegrade);
  EXPECT_NE(outcome.reason.find("forecast"), std::string::npos);
}

TEST(BudgetSpecTest, DefaultsFollowTheCrd) {
  auto budget = ParseAgentBudget(json::parse(
      R"({"metadata": {"name": "org", "generation": 3}, "spec": {"limit": {"amount": "5000"}}})"));
  ASSERT_TRUE(budget.ok());
  EXPECT_EQ(budget->limit.amount, 5'000'000'000);
  EXPECT_EQ(budget->period, PeriodKind::kMonth);
  EXPECT_EQ(budget->alerts, (std::vector<int>{50, 80, 95}));
  EXPECT_EQ(budget->pressure.degrade_at, 80);
  EXPECT_EQ(budget->pressure.queue_at, 90);
  EXPECT_EQ(budget->generation, 3);
  EXPECT_EQ(budget->limit.Display(), "5000 USD");
}

TEST(BudgetSpecTest, InvalidSpecsAreRejectedNamingTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"limit": {}})", "spec.limit"},
      {R"({"limit": {"amount": "1", "tokens": 5}})", "exactly one"},
      {R"({"limit": {"amount": "0"}})", "greater than zero"},
      {R"({"limit": {"amount": "1"}, "period": "Fortnight"})", "Fortnight"},
      {R"({"limit": {"amount": "1"}, "timeZone": "../../etc/passwd"})", "IANA"},
      {R"({"limit": {"amount": "1"}, "perKey": "password"})", "perKey"},
      {R"({"limit": {"amount": "1"}, "pressure": {"degradeAt": 90, "queueAt": 80}})", "queueAt"},
      {R"({"limit": {"amount": "1"}, "onExhausted": "Ignore"})", "onExhausted"},
  };
  for (const auto& [spec, expected] : cases) {
    auto budget = ParseAgentBudget(json{{"metadata", {{"name", "b"}}}, {"spec", json::parse(spec)}});
    ASSERT_FALSE(budget.ok()) << spec;
    EXPECT_NE(budget.error().message.find(expected), std::string::npos) << budget.error().message;
  }
}

TEST(BudgetSpecTest, PerKeyEnvelopeForSpendWithoutTheKeyIsTheSharedEmptyKey) {
  BudgetSpec budget = Budget("per-user", {{"limit", {{"amount", "5"}}}, {"perKey", "user"}});
  EXPECT_EQ(budget.KeyOf({{"user", "alice"}}), "alice");
  EXPECT_EQ(budget.KeyOf({{"team", "a"}}), "");
}

TEST(BudgetSpecTest, NamespaceSelectorRestrictsWhichSpendMatches) {
  BudgetSpec budget = Budget("ns", {{"limit", {{"amount", "5"}}},
                                    {"namespaceSelector", {{"matchLabels", {{"tier", "prod"}}}}},
                                    {"selector", {{"matchLabels", {{"team", "payments"}}}}}});
  EXPECT_TRUE(budget.Matches({{"team", "payments"}}, {{"tier", "prod"}}));
  EXPECT_FALSE(budget.Matches({{"team", "payments"}}, {{"tier", "dev"}}));
  EXPECT_FALSE(budget.Matches({{"team", "search"}}, {{"tier", "prod"}}));
}

}  // namespace
}  // namespace agentbudget::core
