#include "kube/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace agentbudget::kube {

TokenBucket::TokenBucket(double qps, int burst, const Clock& clock)
    : qps_(qps), burst_(burst), clock_(clock), tokens_(burst), last_(clock.Monotonic()) {}

std::chrono::nanoseconds TokenBucket::Reserve() {
  MutexLock lock(mu_);
  auto now = clock_.Monotonic();
  if (now > last_) {
    double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
    last_ = now;
  }
  tokens_ -= 1;
  if (tokens_ >= 0) {
    return std::chrono::nanoseconds{0};
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(std::ceil(-tokens_ / qps_ * 1e9)));
}

ItemBackoff::ItemBackoff(std::chrono::nanoseconds base, std::chrono::nanoseconds max)
    : base_(base), max_(max) {}

std::chrono::nanoseconds ItemBackoff::When(const std::string& key) {
  MutexLock lock(mu_);
  int failures = failures_[key]++;
  // Past 2^62 the shift overflows; the cap is reached long before.
  if (failures >= 62) {
    return max_;
  }
  double delay = static_cast<double>(base_.count()) * std::pow(2.0, failures);
  if (delay >= static_cast<double>(max_.count())) {
    return max_;
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(delay));
}

void ItemBackoff::Forget(const std::string& key) {
  MutexLock lock(mu_);
  failures_.erase(key);
}

int ItemBackoff::Failures(const std::string& key) const {
  MutexLock lock(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

QueueRateLimiter::QueueRateLimiter(Options options, const Clock& clock)
    : backoff_(options.base_delay, options.max_delay),
      bucket_(options.qps, options.burst, clock) {}

std::chrono::nanoseconds QueueRateLimiter::When(const std::string& key) {
  return std::max(backoff_.When(key), bucket_.Reserve());
}

}  // namespace agentbudget::kube
