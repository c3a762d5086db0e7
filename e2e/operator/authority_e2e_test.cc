// The budget authority against a real control plane: TLS with the certificate the operator
// issues from its CA (published in ConfigMap agentbudget-authority-ca), TokenReview-based
// authentication, a pod confined to its own run, the FOCUS export for RBAC-authorized
// readers only, 64 concurrent clients reserving and committing against a budget near its
// limit, and an operator killed with SIGKILL mid-load and restarted while the clients
// resend with their idempotency keys. Each client keeps its own ledger of acknowledged
// spend; the operator's balance must equal their sum to the micro-dollar.
//
// Built twice: operator_e2e_test keeps the ledger on the Kubernetes API; with
// AGENTBUDGET_E2E_POSTGRES, operator_postgres_e2e_test runs the same suite with
// --ledger-store=postgres against a PostgreSQL server it starts, plus a load during which
// that server is restarted.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/money.h"
#include "e2e/operator/operator_process.h"
#include "e2e/support/cluster_environment.h"
#include "e2e/support/local_cluster.h"
#include "e2e/support/postgres_server.h"
#include "kube/transport.h"
#include "tests/authority/focus_csv.h"

namespace agentbudget::e2e {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kClients = 64;
constexpr int64_t kCallMicros = 50'000;          // every call costs $0.05, as estimated
constexpr int64_t kLimitMicros = 60'000'000;     // $60: about 1,200 calls

#ifdef AGENTBUDGET_E2E_POSTGRES
constexpr bool kPostgres = true;
constexpr const char* kClusterName = "operator-pg-e2e";
#else
constexpr bool kPostgres = false;
constexpr const char* kClusterName = "operator-e2e";
#endif

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
  // A second team's pod; readers of spend (finance: every namespace; reader: the agents
  // namespace; nobody: none) as ServiceAccounts of the install namespace.
  yaml += R"(---
apiVersion: v1
kind: Namespace
metadata:
  name: others
  labels:
    agentbudget.io/team: search
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: agent
  namespace: others
---
apiVersion: v1
kind: Pod
metadata:
  name: other-0
  namespace: others
  labels:
    agentbudget.io/run: run-other
    agentbudget.io/workload: review
spec:
  serviceAccountName: agent
  containers:
  - name: agent
    image: agent
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: spend-reader
rules:
- apiGroups: [agentbudget.io]
  resources: [spend]
  verbs: [get]
)";
  for (const char* reader : {"finance", "reader", "nobody"}) {
    yaml += std::string("---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: ") +
            reader + "\n  namespace: agentbudget-system\n";
  }
  yaml += R"(---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: finance-reads-spend
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: spend-reader}
subjects:
- {kind: ServiceAccount, name: finance, namespace: agentbudget-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: reader-reads-spend
  namespace: agents
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: spend-reader}
subjects:
- {kind: ServiceAccount, name: reader, namespace: agentbudget-system}
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
    ::testing::AddGlobalTestEnvironment(new ClusterEnvironment(kClusterName, Prepare));

class AuthorityE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    LocalCluster* cluster = ClusterEnvironment::Cluster();
    ASSERT_NE(cluster, nullptr);
    tokens_ = new std::vector<std::string>();
    for (int i = 0; i < kClients; ++i) {
      tokens_->push_back(PodToken("agents", "agent-" + std::to_string(i)));
    }
    port_ = FreePort();
    ops_port_ = FreePort();
    // No certificate given: the operator issues one for 127.0.0.1 from its CA.
    std::vector<std::string> args = {
        "--kubeconfig=" + cluster->kubeconfig(), "--namespace=agentbudget-system",
        "--listen=127.0.0.1:" + std::to_string(port_),
        "--ops-listen=127.0.0.1:" + std::to_string(ops_port_), "--group-commit-ms=100",
        "--status-ms=500", "--authority-cert-hosts=127.0.0.1"};
    if (kPostgres) {
      auto server = PostgresServer::Start();
      ASSERT_TRUE(server.ok()) << server.error().message;
      postgres_ = server->release();
      const std::string dsn_file = ::testing::TempDir() + "/agentbudget-postgres-dsn";
      std::ofstream(dsn_file) << postgres_->conninfo() << "\n";
      args.insert(args.end(), {"--ledger-store=postgres", "--postgres-dsn-file=" + dsn_file,
                               "--postgres-timeout-ms=2000"});
    }
    operator_ = new OperatorProcess(AGENTBUDGET_OPERATOR_BINARY, std::move(args),
                                    ::testing::TempDir() + "/agentbudget-operator.log");
    ASSERT_TRUE(operator_->Start().ok());
    const std::string ca = PublishedCa();
    ASSERT_FALSE(ca.empty()) << "ConfigMap agentbudget-authority-ca never appeared";
    kube::TransportConfig config;
    config.server = "https://127.0.0.1:" + std::to_string(port_);
    config.ca_pem = ca;
    transport_ = kube::NewCpprestTransport(config).value().release();
    kube::TransportConfig ops;
    ops.server = "http://127.0.0.1:" + std::to_string(ops_port_);
    ops_transport_ = kube::NewCpprestTransport(ops).value().release();
    ASSERT_TRUE(WaitReady());
  }

  // `kubectl create token` output without its newline; "" on failure.
  static std::string Token(const std::vector<std::string>& args) {
    auto token = ClusterEnvironment::Cluster()->Kubectl(args);
    EXPECT_TRUE(token.ok() && token->exit_code == 0) << (token.ok() ? token->output : "");
    if (!token.ok() || token->exit_code != 0) {
      return "";
    }
    std::string text = token->output;
    text.erase(text.find_last_not_of("\n\r ") + 1);
    return text;
  }

  // The bound token of pod `name` in `ns` (ServiceAccount agent, audience agentbudget), as
  // its meter holds it.
  static std::string PodToken(const std::string& ns, const std::string& name) {
    auto uid = ClusterEnvironment::Cluster()->Kubectl(
        {"get", "pod", name, "-n", ns, "-o", "jsonpath={.metadata.uid}"});
    EXPECT_TRUE(uid.ok() && uid->exit_code == 0);
    return Token({"create", "token", "agent", "-n", ns, "--audience=agentbudget",
                  "--bound-object-kind=Pod", "--bound-object-name=" + name,
                  "--bound-object-uid=" + (uid.ok() ? uid->output : ""), "--duration=2h"});
  }

  // The CA bundle the operator publishes for meters, polling until it appears (two minutes).
  static std::string PublishedCa() {
    const auto deadline = std::chrono::steady_clock::now() + seconds{120};
    while (std::chrono::steady_clock::now() < deadline) {
      auto got = ClusterEnvironment::Cluster()->Kubectl(
          {"get", "configmap", "agentbudget-authority-ca", "-n", "agentbudget-system", "-o",
           "json"});
      if (got.ok() && got->exit_code == 0) {
        const json object = json::parse(got->output, nullptr, false);
        if (object.is_object() && object.contains("data") && object["data"].contains("ca.crt")) {
          return object["data"]["ca.crt"].get<std::string>();
        }
      }
      std::this_thread::sleep_for(milliseconds{200});
    }
    return "";
  }

  static void TearDownTestSuite() {
    delete transport_;
    delete ops_transport_;
    delete operator_;
    delete tokens_;
    delete postgres_;
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
                                         const std::string& token, const std::string& body,
                                         kube::Transport* transport = transport_) {
    kube::HttpRequest request;
    request.method = method;
    request.path = path;
    if (!token.empty()) {
      request.headers["authorization"] = "Bearer " + token;
    }
    request.headers["content-type"] = "application/json";
    request.body = body;
    request.timeout = milliseconds{15000};
    return transport->Send(request);
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

  // Reserves and commits one call of `cost` as the pod of `token`; the commit's status.
  static int Spend(const std::string& token, const std::string& key, const std::string& cost) {
    auto reserved = CallUntilAnswered(
        "POST", "/v1/reservations", token,
        json({{"idempotencyKey", key}, {"model", "claude-sonnet-4-5"},
              {"estimate", {{"cost", cost}, {"tokens", 10}}}}).dump());
    if (!reserved.ok() || reserved->status != 200) {
      return reserved.ok() ? reserved->status : 0;
    }
    auto committed = CallUntilAnswered(
        "POST", "/v1/reservations/" + json::parse(reserved->body)["id"].get<std::string>() +
                    "/commit",
        token, json({{"idempotencyKey", key + "-commit"}, {"cost", cost}}).dump());
    return committed.ok() ? committed->status : 0;
  }

  // Field `field` ("spent", "remaining") of budget `name`, in micro-dollars, as the pod of
  // `token` sees it; -1 when absent.
  static int64_t Balance(const std::string& token, const std::string& name,
                         const std::string& field) {
    auto budgets = CallUntilAnswered("GET", "/v1/budgets", token, "");
    if (!budgets.ok() || budgets->status != 200) {
      return -1;
    }
    const json balances = json::parse(budgets->body);
    for (const auto& budget : balances["budgets"]) {
      if (budget["name"] == name) {
        return core::Money::Parse(budget[field].get<std::string>())->micros();
      }
    }
    return -1;
  }
  static int64_t Spent(const std::string& token, const std::string& name) {
    return Balance(token, name, "spent");
  }
  static int64_t Remaining(const std::string& token, const std::string& name) {
    return Balance(token, name, "remaining");
  }

  // What a load left: the budget's spend before and after it, and what the clients' own
  // ledgers hold as acknowledged.
  struct LoadOutcome {
    int64_t before = 0;
    int64_t acknowledged = 0;
    int64_t spent = 0;
    int failures = 0;
  };

  // Runs kClients clients, each reserving and committing calls of kCallMicros until budget
  // payments denies, resending every commit with its key until it is acknowledged. Calls
  // `fault` once spend reaches a third of `limit_micros`. Keys start with `prefix`.
  static LoadOutcome RunLoad(const std::string& prefix, int64_t limit_micros,
                             const std::function<void()>& fault) {
    LoadOutcome outcome;
    outcome.before = Spent((*tokens_)[0], "payments");
    std::atomic<int64_t> acknowledged_calls{0};
    std::vector<int64_t> acknowledged_micros(kClients, 0);
    std::atomic<int> failures{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        const std::string& token = (*tokens_)[static_cast<size_t>(c)];
        for (int n = 0;; ++n) {
          const std::string key = prefix + std::to_string(n);
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
    const auto deadline = std::chrono::steady_clock::now() + seconds{120};
    while (outcome.before + acknowledged_calls.load() * kCallMicros < limit_micros / 3 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds{5});
    }
    fault();
    for (auto& client : clients) {
      client.join();
    }
    outcome.failures = failures.load();
    for (int64_t micros : acknowledged_micros) {
      outcome.acknowledged += micros;
    }
    outcome.spent = Spent((*tokens_)[0], "payments");
    return outcome;
  }

  // The x_Run column of every row of a FOCUS CSV.
  static std::multiset<std::string> FocusRuns(const std::string& csv) {
    std::multiset<std::string> runs;
    for (const auto& row : authority::testing::FocusRows(csv)) {
      runs.insert(row.at("x_Run"));
    }
    return runs;
  }

  static inline std::vector<std::string>* tokens_ = nullptr;
  static inline int port_ = 0;
  static inline int ops_port_ = 0;
  static inline OperatorProcess* operator_ = nullptr;
  static inline PostgresServer* postgres_ = nullptr;  // with kPostgres only
  static inline kube::Transport* transport_ = nullptr;
  static inline kube::Transport* ops_transport_ = nullptr;
};

TEST_F(AuthorityE2eTest, TheAuthorityAnswersOnlyOverTls) {
  kube::TransportConfig plain;
  plain.server = "http://127.0.0.1:" + std::to_string(port_);
  auto transport = kube::NewCpprestTransport(plain).value();
  auto response = Call("GET", "/v1/budgets", (*tokens_)[0], "", transport.get());
  EXPECT_TRUE(!response.ok() || response->status >= 400)
      << "plain HTTP was answered " << response->status;
  kube::TransportConfig other_ca;
  other_ca.server = "https://127.0.0.1:" + std::to_string(port_);
  auto distrusting = kube::NewCpprestTransport(other_ca).value();  // the system's CAs only
  EXPECT_FALSE(Call("GET", "/v1/budgets", (*tokens_)[0], "", distrusting.get()).ok());
}

TEST_F(AuthorityE2eTest, APodReadsOnlyItsOwnRunAndGetsNoKeysItsWorkloadDoesNotKeepHere) {
  auto own = CallUntilAnswered("GET", "/v1/runs/run-0", (*tokens_)[0], "");
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->status, 200) << own->body;
  auto other = CallUntilAnswered("GET", "/v1/runs/run-1", (*tokens_)[0], "");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->status, 403) << other->body;
  // The pods' workload names no keySource Authority: the keys are not the authority's to give.
  auto keys = CallUntilAnswered("GET", "/v1/credentials", (*tokens_)[0], "");
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->status, 403) << keys->body;
}

// GET /v1/focus: 401 without a token, a reader bound in one namespace sees its rows only,
// a reader bound cluster-wide sees every row, a reader bound nowhere is refused.
TEST_F(AuthorityE2eTest, TheFocusExportShowsEachReaderTheNamespacesRbacGrantsIt) {
  ASSERT_EQ(Spend((*tokens_)[2], "focus-agents", "0.01"), 200);
  ASSERT_EQ(Spend(PodToken("others", "other-0"), "focus-others", "0.02"), 200);
  auto anonymous = Call("GET", "/v1/focus", "", "", ops_transport_);
  ASSERT_TRUE(anonymous.ok());
  EXPECT_EQ(anonymous->status, 401);
  auto forged = Call("GET", "/v1/focus", "not-a-token", "", ops_transport_);
  EXPECT_EQ(forged->status, 401);

  auto finance = Call("GET", "/v1/focus", Token({"create", "token", "finance", "-n",
                                                 "agentbudget-system"}),
                      "", ops_transport_);
  ASSERT_TRUE(finance.ok());
  ASSERT_EQ(finance->status, 200) << finance->body;
  EXPECT_TRUE(FocusRuns(finance->body).contains("run-2"));
  EXPECT_TRUE(FocusRuns(finance->body).contains("run-other"));

  const std::string reader = Token({"create", "token", "reader", "-n", "agentbudget-system"});
  auto scoped = Call("GET", "/v1/focus", reader, "", ops_transport_);
  ASSERT_TRUE(scoped.ok());
  ASSERT_EQ(scoped->status, 200) << scoped->body;
  EXPECT_TRUE(FocusRuns(scoped->body).contains("run-2"));
  EXPECT_FALSE(FocusRuns(scoped->body).contains("run-other"));
  EXPECT_EQ(Call("GET", "/v1/focus?namespace=others", reader, "", ops_transport_)->status, 403);
  // The same export on the authority's TLS port.
  auto over_tls = CallUntilAnswered("GET", "/v1/focus", reader, "");
  ASSERT_TRUE(over_tls.ok());
  EXPECT_EQ(over_tls->status, 200);
  EXPECT_EQ(FocusRuns(over_tls->body), FocusRuns(scoped->body));

  auto nobody = Call("GET", "/v1/focus",
                     Token({"create", "token", "nobody", "-n", "agentbudget-system"}), "",
                     ops_transport_);
  ASSERT_TRUE(nobody.ok());
  EXPECT_EQ(nobody->status, 403) << nobody->body;
}

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
  // Kill the operator once a third of the budget is acknowledged, and start it again.
  const LoadOutcome load = RunLoad("load-", kLimitMicros, [] {
    operator_->Kill();
    ASSERT_TRUE(operator_->Start().ok());
  });
  ASSERT_GE(load.before, 0);
  ASSERT_EQ(load.failures, 0);
  // The isolation test's reservation was released: the load and what came before it only.
  EXPECT_EQ(load.spent, load.before + load.acknowledged);
  // Estimates equal costs, so the only overshoot possible comes from reservations in
  // flight at the kill: at most one per client.
  EXPECT_LE(load.spent, kLimitMicros + kClients * kCallMicros);
  EXPECT_GE(load.spent, kLimitMicros - kClients * kCallMicros);
}

#ifdef AGENTBUDGET_E2E_POSTGRES
// PostgreSQL stopped for a few seconds mid-load, then started again: commits wait (the
// clients resend them, as meters do from their spool) and none is acknowledged before it
// is durable. The budget is raised first, so that the load has room after the kill test.
TEST_F(AuthorityE2eTest, RestartedPostgresLosesNoAcknowledgedSpendAndCountsNoneTwice) {
  auto patched = ClusterEnvironment::Cluster()->Kubectl(
      {"patch", "agentbudget", "payments", "--type=merge", "-p",
       R"({"spec":{"limit":{"amount":"120"}}})"});
  ASSERT_TRUE(patched.ok() && patched->exit_code == 0) << (patched.ok() ? patched->output : "");
  constexpr int64_t kRaisedMicros = 120'000'000;
  const auto deadline = std::chrono::steady_clock::now() + seconds{60};
  while (Remaining((*tokens_)[0], "payments") < kRaisedMicros / 3 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds{100});
  }
  ASSERT_GE(Remaining((*tokens_)[0], "payments"), kRaisedMicros / 3);

  const LoadOutcome load = RunLoad("pg-load-", kRaisedMicros, [] {
    ASSERT_TRUE(postgres_->Stop().ok());
    std::this_thread::sleep_for(seconds{3});  // down while the clients keep sending
    ASSERT_TRUE(postgres_->Resume().ok());
  });
  ASSERT_EQ(load.failures, 0);
  EXPECT_EQ(load.spent, load.before + load.acknowledged);
  EXPECT_LE(load.spent, kRaisedMicros + kClients * kCallMicros);
  EXPECT_GE(load.spent, kRaisedMicros - kClients * kCallMicros);
}
#endif

TEST_F(AuthorityE2eTest, BudgetStatusFillsThePrinterColumns) {
  LocalCluster* cluster = ClusterEnvironment::Cluster();
  const auto deadline = std::chrono::steady_clock::now() + seconds{30};
  std::string output;
  while (std::chrono::steady_clock::now() < deadline) {
    auto got = cluster->Kubectl({"get", "agentbudget", "payments", "--no-headers"});
    ASSERT_TRUE(got.ok());
    output = got->output;
    // NAME LIMIT TOTAL USED RESERVED BURN/H FORECAST PRESSURE AGE: nine filled columns, the
    // limit printed as amount and currency.
    std::istringstream columns(output);
    std::vector<std::string> fields;
    for (std::string field; columns >> field;) {
      fields.push_back(field);
    }
    if (fields.size() == 10 && output.find("<none>") == std::string::npos) {
      return;
    }
    std::this_thread::sleep_for(milliseconds{200});
  }
  FAIL() << "printer columns not filled: " << output;
}

}  // namespace
}  // namespace agentbudget::e2e
