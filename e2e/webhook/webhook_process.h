#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"

namespace agentbudget::e2e {

// One agentbudget-webhook child process serving HTTPS on a free loopback port, with its
// output in a log file. The destructor stops it (SIGTERM, then SIGKILL after 5 s).
// Not thread-safe.
//
// It runs with the local control plane's identities (e2e/cluster/up.sh), where the operator
// and kube-controller-manager, hence the Job controller, are all agentbudget-admin:
// --operator-users=agentbudget-admin --job-controller-users=agentbudget-admin, then
// `extra_args` (a later flag wins).
class WebhookProcess {
 public:
  WebhookProcess(std::string binary, std::string kubeconfig, std::string cert_file,
                 std::string key_file, std::string log_file,
                 std::vector<std::string> extra_args = {});
  ~WebhookProcess();
  WebhookProcess(const WebhookProcess&) = delete;
  WebhookProcess& operator=(const WebhookProcess&) = delete;

  // Spawns the binary and polls GET /readyz until 200 (caches synced) or `timeout`.
  Status Start(std::chrono::milliseconds timeout);
  void Stop();

  uint16_t port() const { return port_; }
  // GET `path` over TLS; the body, or an error.
  Result<std::string> Get(const std::string& path) const;
  // The process's resident set size in KiB, from /proc.
  int64_t RssKib() const;

 private:
  const std::string binary_;
  const std::string kubeconfig_;
  const std::string cert_file_;
  const std::string key_file_;
  const std::string log_file_;
  const std::vector<std::string> extra_args_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// A TCP round-robin balancer on a free loopback port, standing in for a Service with
// several endpoints: each accepted connection is piped, bytes unchanged (TLS passes
// through), to the next backend port in turn. Stops in the destructor.
class RoundRobinProxy {
 public:
  explicit RoundRobinProxy(std::vector<uint16_t> backends);
  ~RoundRobinProxy();
  RoundRobinProxy(const RoundRobinProxy&) = delete;
  RoundRobinProxy& operator=(const RoundRobinProxy&) = delete;

  Status Start();
  uint16_t port() const { return port_; }

 private:
  void AcceptLoop();

  const std::vector<uint16_t> backends_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  size_t next_ = 0;
  int stop_pipe_[2] = {-1, -1};
  std::vector<std::thread> threads_;
};

// A free TCP port on 127.0.0.1 (bind to 0, read it back, close).
Result<uint16_t> FreeLoopbackPort();

}  // namespace agentbudget::e2e
