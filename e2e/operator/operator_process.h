#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/result.h"

namespace agentbudget::e2e {

// The agentbudget-operator binary run as a child process, for tests that kill and restart
// it. Its output goes to `log_path` (appended). Not thread-safe.
class OperatorProcess {
 public:
  OperatorProcess(std::string binary, std::vector<std::string> args, std::string log_path)
      : binary_(std::move(binary)), args_(std::move(args)), log_path_(std::move(log_path)) {}
  // Sends SIGKILL if still running, and reaps it.
  ~OperatorProcess();
  OperatorProcess(const OperatorProcess&) = delete;
  OperatorProcess& operator=(const OperatorProcess&) = delete;

  // Starts the binary. kInternal when it cannot be spawned.
  Status Start();
  // SIGKILL, as a crash would, and waits for the process to be gone.
  void Kill();
  // SIGTERM and waits for a clean exit; returns the exit status.
  int Terminate();
  // The running process's id (for /proc), or -1.
  pid_t pid() const { return pid_; }

 private:
  std::string binary_;
  std::vector<std::string> args_;
  std::string log_path_;
  pid_t pid_ = -1;
};

// A TCP port on 127.0.0.1 that was free a moment ago (bound to 0, then released).
int FreePort();

}  // namespace agentbudget::e2e
