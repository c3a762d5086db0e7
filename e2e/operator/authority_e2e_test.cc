// The budget authority against a real control plane: TokenReview-based authentication,
// 64 concurrent clients reserving and committing against a budget near its limit, and an
// operator killed with SIGKILL mid-load and restarted while the clients resend with their
// idempotency keys. Each client keeps its own ledger of acknowledged spend; the operator's
// balance must equal their sum to the micro-dollar.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/money.h"
#include "e2e/operator/operator_process.h"
#include "e2e/support/cluster_environment.h"
#include "e2e/support/local_cluster.h"
#include "kube/transport.h"

namespace agentbudget::e2e {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kClients = 64;
constexpr int64_t kCallMicros = 50'000;          // every call costs $0.05, as estimated
constexpr int64_t kLimitMicros = 60'000'000;     // $60: about 1,200 calls

std::string Manifests() {
  std::string yaml = R"(apiVersion: v1
kind: Namespace
metadata:
  name: agentbudget-system
---
apiVersion: v1
kind: Namespace
metadata:
  name: agents
  labels:
    agentbudget.io/team: payments
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: agent
  namespace: agents
---
apiVersion: agentbudget.io/v1alpha1
kind: AgentBudget
metadata:
  name: payments
spec:
  selector:
    matchLabels:
      team: payments
  period: Month
  limit:
    amount: "60"
  pressure:
    degradeAt: 100
    queueAt: 100
)";
  for (int i = 0; i < kClients; ++i) {
    yaml += "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: agent-" + std::to_string(i) +
            "\n  namespace: agents\n  labels:\n    agentbudget.io/run: run-" + std::to_string(i) +
            "\n    agentbudget.io/workload: review\n    agentbudget.io/user: user-" +
            std::to_string(i % 8) +
            "\nspec:\n  serviceAccountName: agent\n  containers:\n  - name: agent\n    image: agent\n";
  }
  return yaml;
}

Status Prepare(LocalCluster& cluster) {
  if (Status crds = InstallCrds(cluster); !crds.ok()) {
    return crds;
  }
  auto applied = cluster.Kubectl({"apply", "-f", "-"}, Manifests());
  if (!applied.ok()) {
    return std::move(applied).error();
  }
  if (applied->exit_code != 0) {
    return Internal("kubectl apply: " + applied->output);
  }
  return OkStatus();
}

const auto* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new ClusterEnvironment("operator-e2e", Prepare));

class AuthorityE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    LocalCluster* cluster = ClusterEnvironment::Cluster();
    ASSERT_NE(cluster, nullptr);
    auto pods = cluster->Kubectl({"get", "pods", "-n", "agents", "-o", "json"});
    ASSERT_TRUE(pods.ok() && pods->exit_code == 0);
    std::map<std::string, std::string> uids;
    const json pod_list = json::parse(pods->output);
    for (const auto& pod : pod_list["items"]) {
      uids[pod["metadata"]["name"]] = pod["metadata"]["uid"];
    }
    tokens_ = new std::vector<std::string>();
    for (int i = 0; i < kClients; ++i) {
      const std::string name = "agent-" + std::to_string(i);
      auto token = cluster->Kubectl({"create", "token", "agent", "-n", "agents",
                                     "--audience=agentbudget", "--bound-object-kind=Pod",
                                     "--bound-object-name=" + name,
                                     "--bound-object-uid=" + uids[name], "--duration=2h"});
      ASSERT_TRUE(token.ok() && token->exit_code == 0) << (token.ok() ? token->output : "");
      std::string text = token->output;
      text.erase(text.find_last_not_of("\n\r ") + 1);
      tokens_->push_back(text);
    }
    port_ = FreePort();
    ops_port_ = FreePort();
    operator_ = new OperatorProcess(
        AGENTBUDGET_OPERATOR_BINARY,
        {"--kubeconfig=" + cluster->kubeconfig(), "--namespace=agentbudget-system",
         "--listen=127.0.0.1:" + std::to_string(port_),
         "--ops-listen=127.0.0.1:" + std::to_string(ops_port_), "--group-commit-ms=100",
         "--status-ms=500"},
        ::testing::TempDir() + "/agentbudget-operator.log");
    ASSERT_TRUE(operator_->Start().ok());
    kube::TransportConfig config;
    config.server = "http://127.0.0.1:" + std::to_string(port_);
    transport_ = kube::NewCpprestTransport(config).value().release();
    ASSERT_TRUE(WaitReady());
  }

  static void TearDownTestSuite() {
    delete transport_;
    delete operator_;
    delete tokens_;
  }

  // Polls the authority until it answers (not 503 and not a connection error).
  static bool WaitReady() {
    const auto deadline = std::chrono::steady_clock::now() + seconds{120};
    while (std::chrono::steady_clock::now() < deadline) {
      auto response = Call("GET", "/v1/budgets", (*tokens_)[0], "");
      if (response.ok() && response->status == 200) {
        return true;
      }
      std::this_thread::sleep_for(milliseconds{100});
    }
    return false;
  }

  static Result<kube::HttpResponse> Call(const std::string& method, const std::string& path,
                                         const std::string& token, const std::string& body) {
    kube::HttpRequest request;
    request.method = method;
    request.path = path;
    request.headers["authorization"] = "Bearer " + token;
    request.headers["content-type"] = "application/json";
    request.body = body;
    request.timeout = milliseconds{15000};
    return transport_->Send(request);
  }

  // Sends until the authority answers something other than 503 or a connection error
  // (the operator restarting), within a minute.
  static Result<kube::HttpResponse> CallUntilAnswered(const std::string& method,
                                                      const std::string& path,
                                                      const std::string& token,
                                                      const std::string& body) {
    const auto deadline = std::chrono::steady_clock::now() + seconds{60};
    while (true) {
      auto response = Call(method, path, token, body);
      if (response.ok() && response->status != 503) {
        return response;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return Unavailable("no answer within a minute");
      }
      std::this_thread::sleep_for(milliseconds{20});
    }
  }

  static inline std::vector<std::string>* tokens_ = nullptr;
  static inline int port_ = 0;
  static inline int ops_port_ = 0;
  static inline OperatorProcess* operator_ = nullptr;
  static inline kube::Transport* transport_ = nullptr;
};

TEST_F(AuthorityE2eTest, AnotherPodsTokenCannotCommitThisRunsReservation) {
  auto reserved = CallUntilAnswered(
      "POST", "/v1/reservations", (*tokens_)[0],
      json({{"idempotencyKey", "isolation"}, {"model", "claude-sonnet-4-5"},
            {"estimate", {{"cost", "0.01"}, {"tokens", 10}}}}).dump());
  ASSERT_TRUE(reserved.ok());
  ASSERT_EQ(reserved->status, 200) << reserved->body;
  const std::string id = json::parse(reserved->body)["id"];
  auto stolen = CallUntilAnswered("POST", "/v1/reservations/" + id + "/commit", (*tokens_)[1],
                                  json({{"idempotencyKey", "steal"}, {"cost", "0.01"}}).dump());
  ASSERT_TRUE(stolen.ok());
  EXPECT_EQ(stolen->status, 403) << stolen->body;
  auto released = CallUntilAnswered("POST", "/v1/reservations/" + id + "/release", (*tokens_)[0],
                                    json({{"idempotencyKey", "isolation-release"}}).dump());
  EXPECT_EQ(released->status, 200);
}

TEST_F(AuthorityE2eTest, ForgedTokenIsUnauthenticated) {
  auto response = Call("GET", "/v1/budgets", "not-a-token", "");
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 401);
}

TEST_F(AuthorityE2eTest, KilledOperatorLosesNoAcknowledgedSpendAndCountsNoneTwice) {
  std::atomic<int64_t> acknowledged_calls{0};
  std::vector<int64_t> acknowledged_micros(kClients, 0);
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      const std::string& token = (*tokens_)[static_cast<size_t>(c)];
      for (int n = 0;; ++n) {
        const std::string key = "load-" + std::to_string(n);
        auto reserved = CallUntilAnswered(
            "POST", "/v1/reservations", token,
            json({{"idempotencyKey", key}, {"model", "claude-sonnet-4-5"},
                  {"estimate", {{"cost", core::Money::FromMicros(kCallMicros).ToString()}, {"tokens", 100}}}}).dump());
        if (!reserved.ok() || reserved->status != 200) {
          ++failures;
          return;
        }
        const json answer = json::parse(reserved->body);
        if (answer["decision"] == "deny") {
          return;
        }
        const std::string id = answer["id"];
        // The client's own ledger counts a call once the commit is acknowledged; it
        // resends the same key until it is.
        auto committed = CallUntilAnswered(
            "POST", "/v1/reservations/" + id + "/commit", token,
            json({{"idempotencyKey", key + "-commit"}, {"model", "claude-sonnet-4-5"},
                  {"usage", {{"input", 80}, {"output", 20}}},
                  {"cost", core::Money::FromMicros(kCallMicros).ToString()}}).dump());
        if (!committed.ok() || committed->status != 200) {
          ++failures;
          return;
        }
        acknowledged_micros[static_cast<size_t>(c)] += kCallMicros;
        ++acknowledged_calls;
      }
    });
  }
  // Kill the operator once a third of the budget is acknowledged, and start it again.
  const auto deadline = std::chrono::steady_clock::now() + seconds{120};
  while (acknowledged_calls.load() * kCallMicros < kLimitMicros / 3 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds{5});
  }
  operator_->Kill();
  ASSERT_TRUE(operator_->Start().ok());
  for (auto& client : clients) {
    client.join();
  }
  ASSERT_EQ(failures.load(), 0);

  int64_t client_total = 0;
  for (int64_t micros : acknowledged_micros) {
    client_total += micros;
  }
  auto budgets = CallUntilAnswered("GET", "/v1/budgets", (*tokens_)[0], "");
  ASSERT_TRUE(budgets.ok());
  int64_t spent = -1;
  const json balances = json::parse(budgets->body);
  for (const auto& budget : balances["budgets"]) {
    if (budget["name"] == "payments") {
      spent = core::Money::Parse(budget["spent"].get<std::string>())->micros();
    }
  }
  // The isolation test's reservation was released, so only the load was charged.
  EXPECT_EQ(spent, client_total);
  // Estimates equal costs, so the only overshoot possible comes from reservations in
  // flight at the kill: at most one per client.
  EXPECT_LE(spent, kLimitMicros + kClients * kCallMicros);
  EXPECT_GE(spent, kLimitMicros - kClients * kCallMicros);
}

TEST_F(AuthorityE2eTest, BudgetStatusFillsThePrinterColumns) {
  LocalCluster* cluster = ClusterEnvironment::Cluster();
  const auto deadline = std::chrono::steady_clock::now() + seconds{30};
  std::string output;
  while (std::chrono::steady_clock::now() < deadline) {
    auto got = cluster->Kubectl({"get", "agentbudget", "payments", "--no-headers"});
    ASSERT_TRUE(got.ok());
    output = got->output;
    // NAME LIMIT SPENT USED BURN/H FORECAST PRESSURE AGE: eight filled columns.
    std::istringstream columns(output);
    std::vector<std::string> fields;
    for (std::string field; columns >> field;) {
      fields.push_back(field);
    }
    if (fields.size() == 9 && output.find("<none>") == std::string::npos) {
      return;
    }
    std::this_thread::sleep_for(milliseconds{200});
  }
  FAIL() << "printer columns not filled: " << output;
}

}  // namespace
}  // namespace agentbudget::e2e
