#include "e2e/support/cluster_environment.h"

namespace agentbudget::e2e {
namespace {

// Owned by the environment between SetUp and TearDown; read by tests on the main thread.
std::unique_ptr<LocalCluster> g_cluster;
std::string g_failure = "the cluster environment was not registered";

}  // namespace

void ClusterEnvironment::SetUp() {
  auto started = LocalCluster::Start(name_);
  if (!started.ok()) {
    g_failure = started.error().message;
    FAIL() << g_failure;
  }
  g_cluster = std::move(started).value();
  if (prepare_) {
    Status prepared = prepare_(*g_cluster);
    if (!prepared.ok()) {
      g_failure = "preparing cluster " + name_ + " failed: " + prepared.error().message;
      g_cluster.reset();
      FAIL() << g_failure;
    }
  }
}

void ClusterEnvironment::TearDown() { g_cluster.reset(); }

LocalCluster* ClusterEnvironment::Cluster() {
  if (g_cluster == nullptr) {
    ADD_FAILURE() << "no local cluster: " << g_failure;
  }
  return g_cluster.get();
}

Status InstallCrds(LocalCluster& cluster) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"apply", "-f", SourcePath("crds")},
        std::vector<std::string>{"wait", "--for=condition=Established",
                                 "crd/agentbudgets.agentbudget.io",
                                 "crd/agentworkloads.agentbudget.io", "--timeout=60s"}}) {
    auto result = cluster.Kubectl(args);
    if (!result.ok()) {
      return result.error();
    }
    if (result->exit_code != 0) {
      return Unavailable("kubectl " + args[0] + " failed: " + result->output);
    }
  }
  return OkStatus();
}

}  // namespace agentbudget::e2e
