#include "kube/stop_signal.h"

namespace agentbudget::kube {

void StopSignal::Stop() {
  MutexLock lock(mu_);
  stopped_ = true;
  cv_.SignalAll();
}

bool StopSignal::stopped() const {
  MutexLock lock(mu_);
  return stopped_;
}

void StopSignal::Wait() const {
  MutexLock lock(mu_);
  cv_.Wait(mu_, [this] {
    mu_.AssertHeld();
    return stopped_;
  });
}

bool StopSignal::WaitFor(std::chrono::steady_clock::duration timeout) const {
  return WaitUntil(std::chrono::steady_clock::now() + timeout);
}

bool StopSignal::WaitUntil(std::chrono::steady_clock::time_point deadline) const {
  MutexLock lock(mu_);
  return cv_.WaitUntil(mu_, deadline, [this] {
    mu_.AssertHeld();
    return stopped_;
  });
}

}  // namespace agentbudget::kube
