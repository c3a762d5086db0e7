#include "operator/focus.h"

#include <gtest/gtest.h>

#include "tests/authority/fake_api_server.h"
#include "tests/authority/fake_clock.h"
#include "tests/authority/focus_csv.h"
#include "tests/authority/ledger_test_support.h"

namespace agentbudget::op {
namespace {

using std::chrono::seconds;

// 2026-11-27T12:00:00Z.
const core::SysSeconds kNoon{seconds{1'795'780'800}};

authority::LedgerEntry Charge(const std::string& ns, const std::string& key) {
  authority::LedgerEntry entry;
  entry.id = "r-" + key;
  entry.run = "run-" + ns;
  entry.idempotency_key = key;
  entry.namespace_name = ns;
  entry.attribution = {{"team", ns}, {"user", "u"}, {"workload", "review"}};
  entry.model = "claude-sonnet-4-5";
  entry.cost_micros = 1000;
  entry.tokens = 10;
  entry.token_types.input = 10;
  entry.at = kNoon;
  return entry;
}

class FocusTest : public ::testing::Test {
 protected:
  FocusTest() {
    api_->AddToken("finance-token", "system:serviceaccount:agentbudget-system:finance");
    api_->AddToken("alice-token", "alice");
    api_->AddToken("mallory-token", "mallory");
    api_->Grant("system:serviceaccount:agentbudget-system:finance", "");
    api_->Grant("alice", "team-a");
    EXPECT_TRUE(store_.Append({Charge("team-a", "a1"), Charge("team-b", "b1"),
                               Charge("team-a", "a2")})
                    .ok());
  }

  http::Response Get(const std::string& token, const std::string& query = "") {
    http::Request request;
    request.method = "GET";
    request.path = "/v1/focus";
    request.query = query;
    if (!token.empty()) {
      request.headers["Authorization"] = "Bearer " + token;
    }
    return ServeFocus(request, store_, access_, authority::TestRates());
  }

  // The x_Run column of every row (a run's calls of one hour and SKU are one row).
  static std::vector<std::string> Runs(const std::string& csv) {
    std::vector<std::string> runs;
    for (const auto& row : authority::testing::FocusRows(csv)) {
      runs.push_back(row.at("x_Run"));
    }
    return runs;
  }

  std::shared_ptr<authority::testing::FakeApiServer> api_ =
      std::make_shared<authority::testing::FakeApiServer>();
  kube::Client client_{api_, "", ""};
  authority::FakeClock clock_{std::chrono::system_clock::time_point{seconds{1'795'780'800}}};
  authority::SpendAccess access_{client_, clock_, authority::SpendAccess::Options{}};
  authority::InMemoryLedgerStore store_;
};

TEST_F(FocusTest, WithoutAnAcceptedTokenTheExportIs401) {
  EXPECT_EQ(Get("").status, 401);
  EXPECT_EQ(Get("forged").status, 401);
  EXPECT_EQ(api_->Requests("subjectaccessreviews"), 0);
}

TEST_F(FocusTest, AReaderOfEveryNamespaceGetsEveryRow) {
  auto response = Get("finance-token");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.headers["Content-Type"], "text/csv; charset=utf-8");
  EXPECT_EQ(Runs(response.body),
            (std::vector<std::string>{"run-team-a", "run-team-b"}));
}

TEST_F(FocusTest, ATenantGetsOnlyTheRowsOfItsNamespaces) {
  auto response = Get("alice-token");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(Runs(response.body), std::vector<std::string>{"run-team-a"});
  EXPECT_EQ(response.body.find("team-b"), std::string::npos);
}

TEST_F(FocusTest, AReaderOfNoNamespaceIs403) {
  auto response = Get("mallory-token");
  EXPECT_EQ(response.status, 403);
  EXPECT_NE(nlohmann::json::parse(response.body)["error"]["message"].get<std::string>().find(
                "user \"mallory\" may not get spend.agentbudget.io"),
            std::string::npos);
  EXPECT_EQ(Get("alice-token", "namespace=team-b").status, 403);
}

TEST_F(FocusTest, TheNamespaceParameterNarrowsTheExport) {
  auto response = Get("finance-token", "namespace=team-b");
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(Runs(response.body), std::vector<std::string>{"run-team-b"});
  // A namespace without spend yet is an empty export, not a refusal.
  auto empty = Get("alice-token", "namespace=team-a&from=2027-01-01");
  ASSERT_EQ(empty.status, 200);
  EXPECT_TRUE(Runs(empty.body).empty());
  EXPECT_EQ(Get("finance-token", "namespace=Not_A_Name").status, 400);
}

}  // namespace
}  // namespace agentbudget::op
