#include "operator/showback.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include "operator/authority/focus_export.h"
#include "operator/authority/metrics.h"
#include "operator/budgets/budget_status.h"
#include "operator/queue/queue_metrics.h"
#include "operator/queue/workload_status.h"
#include "operator/spend_request.h"
#include "tests/authority/fake_api_server.h"
#include "tests/authority/fake_clock.h"
#include "tests/authority/focus_csv.h"
#include "tests/authority/ledger_test_support.h"

namespace agentbudget::op {
namespace {

using nlohmann::json;
using std::chrono::seconds;

// 2026-11-27T12:00:00Z.
const std::chrono::system_clock::time_point kNoon{seconds{1'795'780'800}};

// The ledger of one month of the `review` workload in two namespaces: three runs of
// team-a (one succeeded and merged, one failed, a subagent) and one of team-b.
class ShowbackTest : public ::testing::Test {
 protected:
  ShowbackTest() {
    api_->AddToken("finance-token", "system:serviceaccount:agentbudget-system:finance");
    api_->AddToken("alice-token", "alice");
    api_->AddToken("mallory-token", "mallory");
    api_->Grant("system:serviceaccount:agentbudget-system:finance", "");
    api_->Grant("alice", "team-a");
    ledger_.UpsertBudget(authority::MakeBudget("org", {{"limit", {{"amount", "100"}}}}));
    ledger_.UpsertBudget(authority::MakeBudget(
        "per-user", {{"limit", {{"amount", "5"}}}, {"perKey", "user"}, {"period", "Day"}}));
    Spend("team-a", "run-ok", "alice", 1'234'567);
    Spend("team-a", "run-ok", "alice", 300'001);
    Spend("team-a", "run-failed", "bob", 2'000'000);
    Spend("team-a", "run-ok-sub", "alice", 700'000);
    Spend("team-b", "run-b", "carol", 500'000);
    Report("team-a", "run-ok", "Succeeded");
    Report("team-a", "run-ok", "merged");
    Report("team-a", "run-failed", "Failed");
    Report("team-b", "run-b", "Succeeded");
  }

  static authority::Caller CallerOf(const std::string& ns, const std::string& run,
                                    const std::string& user) {
    authority::Caller caller = authority::MakeCaller(run, ns, user);
    caller.namespace_name = ns;
    return caller;
  }

  void Spend(const std::string& ns, const std::string& run, const std::string& user,
             int64_t micros) {
    const authority::Caller caller = CallerOf(ns, run, user);
    const std::string key = run + std::to_string(++calls_);
    auto answer = ledger_.Reserve(caller, authority::Reservation(key, micros));
    ASSERT_TRUE(answer.ok());
    ASSERT_TRUE(authority::CommitAndWait(ledger_, caller, (*answer)["id"],
                                         authority::Commitment(key, micros))
                    .ok());
  }

  void Report(const std::string& ns, const std::string& run, const std::string& outcome) {
    auto promise = std::make_shared<std::promise<Result<json>>>();
    auto future = promise->get_future();
    ledger_.RecordEvent(
        CallerOf(ns, run, "-"),
        {"outcome-" + outcome + run, std::string(authority::kOutcomeReport) + outcome, 0, 0, 5},
        [promise](Result<json> result) { promise->set_value(std::move(result)); });
    ASSERT_EQ(future.wait_for(seconds{5}), std::future_status::ready);
    ASSERT_TRUE(future.get().ok());
  }

  http::Response Get(const std::string& token, const std::string& query = "") {
    http::Request request;
    request.method = "GET";
    request.path = "/v1/showback";
    request.query = query;
    if (!token.empty()) {
      request.headers["Authorization"] = "Bearer " + token;
    }
    return ServeShowback(request, {store_, ledger_, access_, authority::TestRates(), clock_});
  }

  // A gauge's value for `labels` among the registry's families.
  static std::optional<double> Gauge(prometheus::Registry& registry, const std::string& name,
                                     const std::map<std::string, std::string>& labels) {
    for (const auto& family : registry.Collect()) {
      if (family.name != name) {
        continue;
      }
      for (const auto& metric : family.metric) {
        std::map<std::string, std::string> have;
        for (const auto& label : metric.label) {
          have[label.name] = label.value;
        }
        if (std::all_of(labels.begin(), labels.end(),
                        [&](const auto& l) { return have[l.first] == l.second; })) {
          return metric.gauge.value;
        }
      }
    }
    return std::nullopt;
  }

  static double Usd(const std::string& decimal) {
    return static_cast<double>(core::Money::Parse(decimal).value().micros()) / 1e6;
  }

  std::shared_ptr<authority::testing::FakeApiServer> api_ =
      std::make_shared<authority::testing::FakeApiServer>();
  kube::Client client_{api_, "", ""};
  authority::FakeClock clock_{kNoon};
  authority::SpendAccess access_{client_, clock_, authority::SpendAccess::Options{}};
  authority::InMemoryLedgerStore store_;
  authority::Ledger ledger_{clock_, store_, authority::TestRates(), authority::Ledger::Options{},
                            authority::GroupCommitter::Options{std::chrono::milliseconds{5}, 100}};
  int calls_ = 0;
};

TEST(QueryParameterTest, FindsTheLastValueOfTheNamedParameterOnly) {
  EXPECT_EQ(QueryParameter("format=json&namespace=a", "format"), "json");
  EXPECT_EQ(QueryParameter("namespace=a&namespace=b", "namespace"), "b");
  EXPECT_EQ(QueryParameter("formats=json", "format"), std::nullopt);
  EXPECT_EQ(QueryParameter("format", "format"), std::nullopt);
  EXPECT_EQ(QueryParameter("", "format"), std::nullopt);
}

TEST_F(ShowbackTest, WithoutAnAcceptedTokenTheReportIs401) {
  EXPECT_EQ(Get("").status, 401);
  EXPECT_EQ(Get("forged").status, 401);
}

TEST_F(ShowbackTest, AReaderOfNoNamespaceIs403NamingTheRole) {
  const http::Response response = Get("mallory-token");
  EXPECT_EQ(response.status, 403);
  EXPECT_NE(response.body.find("agentbudget-spend-viewer"), std::string::npos);
}

TEST_F(ShowbackTest, ATenantSeesOnlyItsNamespacesAndNoBudgets) {
  const http::Response response = Get("alice-token", "format=json");
  ASSERT_EQ(response.status, 200) << response.body;
  const json report = json::parse(response.body);
  EXPECT_EQ(report["total"], "4.234568");
  ASSERT_EQ(report["byTeam"].size(), 1U);
  EXPECT_EQ(report["byTeam"][0]["name"], "team-a");
  EXPECT_TRUE(report["budgets"].empty());
  EXPECT_TRUE(report["degradedShare"].is_null());
}

TEST_F(ShowbackTest, AReaderOfEveryNamespaceGetsTheHtmlPage) {
  const http::Response response = Get("finance-token");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.headers.at("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(response.body.find("data-figure=\"total\" data-usd=\"4.734568\""), std::string::npos);
  EXPECT_NE(response.body.find("data-budget=\"per-user\""), std::string::npos);
}

// One definition of each figure: AgentWorkload status, the metrics, the FOCUS export and
// the showback, read for the same runs, agree.
TEST_F(ShowbackTest, StatusMetricsFocusAndShowbackAgreeOnEveryFigure) {
  const auto spends = ledger_.WorkloadSpends();
  const authority::WorkloadSpend& spend = spends.at("team-a/review");
  queue::WorkloadTally tally;
  queue::TallyMonth(spend, {"claude-haiku-4-5"}, tally);
  const json status = queue::WorkloadStatusPatch(tally, 1);

  prometheus::Registry registry;
  queue::QueueMetrics queue_metrics(registry);
  queue_metrics.SetWorkloads({{"team-a/review", tally}});
  auto shared = std::make_shared<prometheus::Registry>();
  authority::AuthorityMetrics authority_metrics(shared);
  const std::vector<authority::BudgetSnapshot> budgets = ledger_.Budgets();
  authority_metrics.Update(budgets, ledger_.stats(), ledger_.spend(), 0);

  const auto entries = store_.Load().value();
  const std::string csv =
      authority::FocusExport(entries, core::SysSeconds{}, core::SysSeconds::max(),
                             authority::TestRates(), core::FocusAccount{});
  int64_t focus_team_a = 0;
  int64_t focus_total = 0;
  for (const auto& row : authority::testing::FocusRows(csv)) {
    const int64_t billed = core::Money::Parse(row.at("BilledCost")).value().micros();
    focus_total += billed;
    if (row.at("SubAccountId") == "team-a") {
      focus_team_a += billed;
    }
  }

  const json showback = json::parse(Get("finance-token", "format=json").body);
  const json& workload = showback["workloads"][0];
  ASSERT_EQ(workload["workload"], "team-a/review");

  // Spend: the ledger's micro-dollars everywhere.
  EXPECT_EQ(focus_team_a, 4'234'568);
  EXPECT_EQ(status["spend"], core::Money::FromMicros(focus_team_a).ToString());
  EXPECT_EQ(workload["spend"], status["spend"]);
  EXPECT_EQ(showback["total"], core::Money::FromMicros(focus_total).ToString());
  const std::map<std::string, std::string> labels = {{"namespace", "team-a"},
                                                     {"workload", "review"}};
  EXPECT_DOUBLE_EQ(*Gauge(registry, "agentbudget_workload_spend_usd", labels),
                   Usd(status["spend"]));
  // Cost per successful run: the whole spend (failed run and subagent included) over the
  // one success, the FOCUS rows' sum over the successes.
  EXPECT_EQ(status["costPerSuccessfulRun"], "4.234568");
  EXPECT_EQ(workload["costPerSuccessfulRun"], status["costPerSuccessfulRun"]);
  EXPECT_DOUBLE_EQ(*Gauge(registry, "agentbudget_workload_cost_per_successful_run_usd", labels),
                   Usd(status["costPerSuccessfulRun"]));
  EXPECT_EQ(workload["costPerMergedPr"], status["costPerMergedPr"]);
  EXPECT_DOUBLE_EQ(*Gauge(registry, "agentbudget_workload_cost_per_merged_pr_usd", labels),
                   Usd(status["costPerMergedPr"]));
  EXPECT_EQ(workload["successRate"], status["successRate"]);
  EXPECT_EQ(workload["tokenYield"], status["tokenYield"]);
  EXPECT_DOUBLE_EQ(*Gauge(registry, "agentbudget_workload_token_yield_ratio", labels),
                   *core::TokenYield(tally.runs).Ratio());
  // Budgets: spent, burn rate and forecast alike in status, metrics and the showback.
  for (const authority::BudgetSnapshot& snapshot : budgets) {
    const json budget_status =
        budgets::BuildBudgetStatus(snapshot, {50, 80, 95}, json(), core::SysSeconds{}).status;
    const json* shown = nullptr;
    for (const json& item : showback["budgets"]) {
      if (item["name"] == snapshot.name) {
        shown = &item;
      }
    }
    ASSERT_NE(shown, nullptr) << snapshot.name;
    EXPECT_EQ((*shown)["totalSpent"], budget_status["spent"]) << snapshot.name;
    EXPECT_EQ((*shown)["forecast"], budget_status["forecast"]) << snapshot.name;
    EXPECT_EQ((*shown)["burnRatePerHour"], budget_status["burnRatePerHour"]) << snapshot.name;
    EXPECT_EQ((*shown)["limit"].get<std::string>() +
                  (snapshot.per_key.empty() ? "" : " per " + snapshot.per_key),
              budget_status["limit"].get<std::string>());
    const std::map<std::string, std::string> budget_label = {{"budget", snapshot.name}};
    EXPECT_DOUBLE_EQ(*Gauge(*shared, "agentbudget_budget_spent_usd", budget_label),
                     Usd(budget_status["spent"]));
    EXPECT_DOUBLE_EQ(*Gauge(*shared, "agentbudget_budget_forecast_usd", budget_label),
                     Usd(budget_status["forecast"]));
    EXPECT_DOUBLE_EQ(*Gauge(*shared, "agentbudget_budget_burn_rate_per_hour_usd", budget_label),
                     Usd(budget_status["burnRatePerHour"]));
  }
  EXPECT_EQ(showback["budgets"][0]["totalSpent"], core::Money::FromMicros(focus_total).ToString());
}

}  // namespace
}  // namespace agentbudget::op
