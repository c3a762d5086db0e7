#pragma once

#include <chrono>

#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace agentbudget::kube {

// A one-way stop flag that threads can sleep on: periodic work waits for its next due time
// with WaitFor, and Stop() wakes every waiter at once, so no loop polls to notice a stop.
// Thread-safe.
class StopSignal {
 public:
  StopSignal() = default;
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  // Sets the flag and wakes every waiter. Idempotent.
  void Stop() EXCLUDES(mu_);
  bool stopped() const EXCLUDES(mu_);
  // Waits until stopped.
  void Wait() const EXCLUDES(mu_);
  // Waits `timeout`, or less if stopped meanwhile; returns stopped().
  bool WaitFor(std::chrono::steady_clock::duration timeout) const EXCLUDES(mu_);
  // Waits until `deadline`, or less if stopped meanwhile; returns stopped().
  bool WaitUntil(std::chrono::steady_clock::time_point deadline) const EXCLUDES(mu_);

 private:
  mutable Mutex mu_;
  mutable CondVar cv_;
  bool stopped_ GUARDED_BY(mu_) = false;
};

}  // namespace agentbudget::kube
