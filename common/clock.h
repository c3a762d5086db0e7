#pragma once

#include <chrono>

namespace agentbudget {

// Time, injectable so that periods, TTLs and backoff are testable without sleeping.
// Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, for periods and timestamps that leave the process.
  virtual std::chrono::system_clock::time_point Now() const = 0;
  // Monotonic time, for timeouts, TTLs and rate limits.
  virtual std::chrono::steady_clock::time_point Monotonic() const = 0;
};

// The process's real clocks. Thread-safe.
class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::now();
  }
  // A process-wide instance.
  static const SystemClock& Instance() {
    static const SystemClock clock;
    return clock;
  }
};

}  // namespace agentbudget
