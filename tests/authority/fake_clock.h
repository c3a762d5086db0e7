#pragma once

#include <chrono>

#include "common/clock.h"
#include "common/mutex.h"

namespace agentbudget::authority {

// A clock tests move by hand. Wall and monotonic time advance together, except through
// JumpWall, which moves only the wall clock (as an NTP step would). Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::chrono::system_clock::time_point start) : wall_(start) {}
  std::chrono::system_clock::time_point Now() const override {
    MutexLock lock(mu_);
    return wall_;
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    MutexLock lock(mu_);
    return monotonic_;
  }
  void Advance(std::chrono::seconds by) {
    MutexLock lock(mu_);
    wall_ += by;
    monotonic_ += by;
  }
  void JumpWall(std::chrono::seconds by) {
    MutexLock lock(mu_);
    wall_ += by;
  }

 private:
  mutable Mutex mu_;
  std::chrono::system_clock::time_point wall_ GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point monotonic_ GUARDED_BY(mu_){std::chrono::hours{1000}};
};

}  // namespace agentbudget::authority
