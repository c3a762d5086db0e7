#include "e2e/support/local_cluster.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace agentbudget::e2e {
namespace {

std::string LastLine(const std::string& text) {
  std::string trimmed = text;
  while (!trimmed.empty() && trimmed.back() == '\n') {
    trimmed.pop_back();
  }
  const size_t newline = trimmed.rfind('\n');
  return newline == std::string::npos ? trimmed : trimmed.substr(newline + 1);
}

// Reads `server:` from the kubeconfig that up.sh wrote.
std::string ServerOf(const std::string& kubeconfig) {
  std::ifstream in(kubeconfig);
  std::string line;
  while (std::getline(in, line)) {
    const size_t at = line.find("server: ");
    if (at != std::string::npos) {
      return line.substr(at + 8);
    }
  }
  return "";
}

}  // namespace

std::string SourcePath(const std::string& relative) {
  return std::string(AGENTBUDGET_SOURCE_DIR) + "/" + relative;
}

Result<std::unique_ptr<LocalCluster>> LocalCluster::Start(std::string name) {
  auto bin = RunCommand({SourcePath("e2e/cluster/build-tools.sh")});
  if (!bin.ok()) {
    return bin.error();
  }
  if (bin->exit_code != 0) {
    return Unavailable("building the control plane failed:\n" + bin->output);
  }
  // up.sh prints KUBECONFIG=... as the last line of its output when the cluster is ready.
  // --replace: a cluster of the same name left by a crashed run of this suite is stale.
  auto up = RunCommand({SourcePath("e2e/cluster/up.sh"), name, "--replace"});
  if (!up.ok()) {
    return up.error();
  }
  const std::string last = LastLine(up->output);
  if (up->exit_code != 0 || last.rfind("KUBECONFIG=", 0) != 0) {
    return Unavailable("local cluster " + name + " did not start (e2e/cluster/up.sh exit " +
                       std::to_string(up->exit_code) + "):\n" + up->output);
  }
  std::string kubeconfig = last.substr(std::string("KUBECONFIG=").size());
  std::string server = ServerOf(kubeconfig);
  return std::unique_ptr<LocalCluster>(new LocalCluster(
      std::move(name), std::move(kubeconfig), std::move(server), LastLine(bin->output)));
}

LocalCluster::~LocalCluster() {
  const char* keep = std::getenv("AGENTBUDGET_KEEP_CLUSTERS");
  if (keep != nullptr && std::string(keep) == "1") {
    return;
  }
  (void)RunCommand({SourcePath("e2e/cluster/down.sh"), name_});
}

Result<CommandResult> LocalCluster::Kubectl(const std::vector<std::string>& args,
                                            const std::string& stdin_text) const {
  std::vector<std::string> argv = {bin_dir_ + "/kubectl", "--kubeconfig", kubeconfig_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, stdin_text);
}

Status LocalCluster::Restart(const std::string& component) const {
  auto restarted = RunCommand({SourcePath("e2e/cluster/restart.sh"), name_, component});
  if (!restarted.ok()) {
    return restarted.error();
  }
  if (restarted->exit_code != 0) {
    return Unavailable("restarting " + component + " failed:\n" + restarted->output);
  }
  return OkStatus();
}

}  // namespace agentbudget::e2e
