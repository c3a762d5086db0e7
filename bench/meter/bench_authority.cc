#include "bench/meter/bench_authority.h"

#include <chrono>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "e2e/support/cluster_environment.h"

namespace agentbudget::bench {
namespace {

using nlohmann::json;

constexpr const char* kManifests = R"(apiVersion: v1
kind: Namespace
metadata:
  name: agentbudget-system
---
apiVersion: v1
kind: Namespace
metadata:
  name: agents
  labels:
    agentbudget.io/team: bench
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
  name: bench
spec:
  selector:
    matchLabels:
      team: bench
  period: Month
  limit:
    amount: "1000000"
---
apiVersion: v1
kind: Pod
metadata:
  name: agent-0
  namespace: agents
  labels:
    agentbudget.io/run: run-bench
    agentbudget.io/workload: bench
spec:
  serviceAccountName: agent
  containers:
  - name: agent
    image: agent
)";

// kubectl's output, trimmed; an error naming the command when it failed.
Result<std::string> Kubectl(const e2e::LocalCluster& cluster, const std::vector<std::string>& args,
                            const std::string& input = "") {
  auto ran = cluster.Kubectl(args, input);
  if (!ran.ok()) {
    return std::move(ran).error();
  }
  if (ran->exit_code != 0) {
    return Internal("kubectl " + args.front() + ": " + ran->output);
  }
  std::string text = ran->output;
  text.erase(text.find_last_not_of("\n\r ") + 1);
  return text;
}

}  // namespace

Result<std::unique_ptr<BenchAuthority>> BenchAuthority::Start(const std::string& cluster_name,
                                                              const std::string& operator_binary,
                                                              const std::string& dir) {
  std::unique_ptr<BenchAuthority> authority(new BenchAuthority());
  auto cluster = e2e::LocalCluster::Start(cluster_name);
  if (!cluster.ok()) {
    return std::move(cluster).error();
  }
  authority->cluster_ = std::move(*cluster);
  e2e::LocalCluster& c = *authority->cluster_;
  if (Status crds = e2e::InstallCrds(c); !crds.ok()) {
    return crds.error();
  }
  if (auto applied = Kubectl(c, {"apply", "-f", "-"}, kManifests); !applied.ok()) {
    return applied.error();
  }
  const int port = e2e::FreePort();
  const int ops_port = e2e::FreePort();
  authority->operator_ = std::make_unique<e2e::OperatorProcess>(
      operator_binary,
      std::vector<std::string>{"--kubeconfig=" + c.kubeconfig(),
                               "--namespace=agentbudget-system",
                               "--listen=127.0.0.1:" + std::to_string(port),
                               "--ops-listen=127.0.0.1:" + std::to_string(ops_port),
                               "--authority-cert-hosts=127.0.0.1", "--log-level=error"},
      dir + "/operator.log");
  if (Status started = authority->operator_->Start(); !started.ok()) {
    return started.error();
  }
  authority->url_ = "https://127.0.0.1:" + std::to_string(port);
  authority->ops_port_ = ops_port;
  // The CA bundle the operator publishes for meters, once it has issued its certificate.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  std::string ca;
  while (ca.empty() && std::chrono::steady_clock::now() < deadline) {
    auto got = Kubectl(c, {"get", "configmap", "agentbudget-authority-ca", "-n",
                           "agentbudget-system", "-o", "json"});
    const json object = got.ok() ? json::parse(*got, nullptr, false) : json();
    if (object.is_object() && object.contains("data") && object["data"].contains("ca.crt")) {
      ca = object["data"]["ca.crt"].get<std::string>();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  if (ca.empty()) {
    return Unavailable("the operator never published ConfigMap agentbudget-authority-ca (see " +
                       dir + "/operator.log)");
  }
  authority->ca_file_ = dir + "/authority-ca.pem";
  std::ofstream(authority->ca_file_) << ca;
  auto uid = Kubectl(c, {"get", "pod", "agent-0", "-n", "agents", "-o",
                         "jsonpath={.metadata.uid}"});
  if (!uid.ok()) {
    return uid.error();
  }
  auto token = Kubectl(c, {"create", "token", "agent", "-n", "agents", "--audience=agentbudget",
                           "--bound-object-kind=Pod", "--bound-object-name=agent-0",
                           "--bound-object-uid=" + *uid, "--duration=2h"});
  if (!token.ok()) {
    return token.error();
  }
  authority->token_file_ = dir + "/token";
  std::ofstream(authority->token_file_) << *token;
  return authority;
}

}  // namespace agentbudget::bench
