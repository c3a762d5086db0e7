#pragma once

#include <chrono>
#include <map>
#include <string>

#include "common/clock.h"
#include "common/mutex.h"

namespace agentbudget::kube {

// A token bucket: `qps` tokens per second, holding at most `burst`. Thread-safe.
class TokenBucket {
 public:
  // REQUIRES: qps > 0, burst >= 1. `clock` must outlive the bucket.
  TokenBucket(double qps, int burst, const Clock& clock);

  // Takes one token and returns how long the caller must wait before acting on it: zero
  // when a token was available, otherwise the time until it will have been. Tokens are
  // handed out in call order, so waiting callers never starve.
  std::chrono::nanoseconds Reserve() EXCLUDES(mu_);

 private:
  const double qps_;
  const double burst_;
  const Clock& clock_;
  Mutex mu_;
  double tokens_ GUARDED_BY(mu_);  // may go negative
  std::chrono::steady_clock::time_point last_ GUARDED_BY(mu_);
};

// Per-key exponential backoff: base * 2^(failures so far), capped at `max`. Thread-safe.
class ItemBackoff {
 public:
  ItemBackoff(std::chrono::nanoseconds base, std::chrono::nanoseconds max);
  // Returns the delay for this failure of `key` and counts it.
  std::chrono::nanoseconds When(const std::string& key) EXCLUDES(mu_);
  // Forgets the failures of `key` (it succeeded).
  void Forget(const std::string& key) EXCLUDES(mu_);
  int Failures(const std::string& key) const EXCLUDES(mu_);

 private:
  const std::chrono::nanoseconds base_;
  const std::chrono::nanoseconds max_;
  mutable Mutex mu_;
  std::map<std::string, int> failures_ GUARDED_BY(mu_);
};

// The work queue's rate limiter, as client-go's default controller rate limiter: the larger
// of a per-item exponential backoff (5 ms doubling to 1000 s) and an overall token bucket
// (10 qps, burst 100), so one hot key backs off alone and a storm of failures is capped.
// Thread-safe.
class QueueRateLimiter {
 public:
  struct Options {
    std::chrono::nanoseconds base_delay = std::chrono::milliseconds(5);
    std::chrono::nanoseconds max_delay = std::chrono::seconds(1000);
    double qps = 10;
    int burst = 100;
  };
  // `clock` must outlive the limiter.
  QueueRateLimiter(Options options, const Clock& clock);
  explicit QueueRateLimiter(const Clock& clock = SystemClock::Instance())
      : QueueRateLimiter(Options{}, clock) {}

  std::chrono::nanoseconds When(const std::string& key);
  void Forget(const std::string& key) { backoff_.Forget(key); }
  int NumRequeues(const std::string& key) const { return backoff_.Failures(key); }

 private:
  ItemBackoff backoff_;
  TokenBucket bucket_;
};

}  // namespace agentbudget::kube
