#include "operator/authority/metrics.h"

#include <gtest/gtest.h>

#include <prometheus/text_serializer.h>

#include "tests/authority/fake_clock.h"
#include "tests/authority/ledger_test_support.h"

namespace agentbudget::authority {
namespace {

class AuthorityMetricsTest : public ::testing::Test {
 protected:
  AuthorityMetricsTest() { ledger_.UpsertBudget(MakeBudget("org", {{"limit", {{"amount", "100"}}}})); }

  // The registry in the Prometheus text format, after an update from the ledger.
  std::string Scrape() {
    metrics_.Update(ledger_.Budgets(), ledger_.stats(), ledger_.spend(), ledger_.pending_commits());
    return prometheus::TextSerializer().Serialize(registry_->Collect());
  }

  FakeClock clock_{std::chrono::system_clock::time_point{std::chrono::seconds{1'795'780'800}}};
  InMemoryLedgerStore store_;
  Ledger ledger_{clock_, store_, TestRates(), Ledger::Options{},
                 GroupCommitter::Options{std::chrono::milliseconds{5}, 100}};
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  AuthorityMetrics metrics_{registry_};
};

TEST_F(AuthorityMetricsTest, SpendAndTokensAreCountedByAttributionAndTokenTypeWithoutRunIds) {
  Caller alice = MakeCaller("run-a", "payments", "alice");
  alice.attribution["workflow"] = "review";
  auto reserved = ledger_.Reserve(alice, Reservation("k1", 100'000));
  CommitRequest commit = Commitment("c1", 2'500);
  commit.input_tokens = 700;
  commit.output_tokens = 200;
  ASSERT_TRUE(CommitAndWait(ledger_, alice, (*reserved)["id"], commit).ok());

  const std::string text = Scrape();
  const std::string labels =
      R"(model="claude-sonnet-4-5",namespace="agents",team="payments",)";
  EXPECT_NE(text.find("agentbudget_spend_usd_total{" + labels + R"(workflow="review"} 0.0025)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("agentbudget_tokens_total{" + labels +
                      R"(type="input",workflow="review"} 700)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("agentbudget_tokens_total{" + labels +
                      R"(type="output",workflow="review"} 200)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(agentbudget_reservation_decisions_total{decision="allow"} 1)"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("run-a"), std::string::npos) << "run ids must not become labels";
}

TEST_F(AuthorityMetricsTest, BudgetGaugesShowLimitSpentAndUtilization) {
  Caller alice = MakeCaller("run-a", "payments", "alice");
  auto reserved = ledger_.Reserve(alice, Reservation("k1", 100'000));
  ASSERT_TRUE(CommitAndWait(ledger_, alice, (*reserved)["id"], Commitment("c1", 25'000'000)).ok());
  const std::string text = Scrape();
  EXPECT_NE(text.find(R"(agentbudget_budget_limit_usd{budget="org"} 100)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(agentbudget_budget_spent_usd{budget="org"} 25)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(agentbudget_budget_utilization_ratio{budget="org"} 0.25)"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace agentbudget::authority
