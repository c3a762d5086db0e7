#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "e2e/support/command.h"

namespace agentbudget::e2e {

// A real Kubernetes control plane on loopback (etcd, kube-apiserver, controller-manager,
// scheduler, kwok with fake Nodes), started by e2e/cluster/up.sh and stopped by down.sh.
// Owns the cluster: the destructor stops it and removes its state, unless the environment
// variable AGENTBUDGET_KEEP_CLUSTERS=1 asks to keep it for debugging. Thread-safe for
// concurrent Kubectl calls.
class LocalCluster {
 public:
  // Starts cluster `name` (lower-case letters, digits and '-'; unique among clusters running
  // at once). Fails with the script's output, which names the failing component and the log
  // directory, when the cluster cannot start. Takes a few seconds once the binaries are built.
  static Result<std::unique_ptr<LocalCluster>> Start(std::string name);

  ~LocalCluster();
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  const std::string& name() const { return name_; }
  // Path of an admin kubeconfig (client certificate in system:masters).
  const std::string& kubeconfig() const { return kubeconfig_; }
  // The API server's URL, e.g. "https://127.0.0.1:23452".
  const std::string& server() const { return server_; }
  // Directory of the control-plane binaries (kubectl, kube-apiserver, ...).
  const std::string& bin_dir() const { return bin_dir_; }

  // Runs kubectl against this cluster. A non-zero exit is a successful CommandResult.
  Result<CommandResult> Kubectl(const std::vector<std::string>& args,
                                const std::string& stdin_text = "") const;

  // Restarts one component ("kube-apiserver", "etcd", ...) with the same flags and waits
  // until the API server is ready again.
  Status Restart(const std::string& component) const;

 private:
  LocalCluster(std::string name, std::string kubeconfig, std::string server, std::string bin)
      : name_(std::move(name)),
        kubeconfig_(std::move(kubeconfig)),
        server_(std::move(server)),
        bin_dir_(std::move(bin)) {}

  const std::string name_;
  const std::string kubeconfig_;
  const std::string server_;
  const std::string bin_dir_;
};

// The absolute path of a file in the source tree, e.g. SourcePath("crds").
std::string SourcePath(const std::string& relative);

}  // namespace agentbudget::e2e
