#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace agentbudget::authority {

// Latencies counted in buckets of fixed relative width, so that a benchmark's record of
// millions of requests takes the same memory as of one (kBuckets counters, about 33 KiB)
// and does not inflate the resident set it reports. Bucket i holds [kMinMs * kGrowth^i,
// kMinMs * kGrowth^(i+1)); Percentile() answers a bucket's geometric middle, within
// kGrowth's half-width (0.25 %) of the exact order statistic for values from kMinMs to
// kMaxMs; values below count in the first bucket, values above in the last.
// Thread-safe: Record() may run on many threads at once; read once they are done.
class LatencyHistogram {
 public:
  static constexpr double kMinMs = 0.001;  // 1 µs
  static constexpr double kMaxMs = 1e6;    // 1,000 s
  static constexpr double kGrowth = 1.005;
  // ln(kMaxMs / kMinMs) / ln(kGrowth), rounded up.
  static constexpr size_t kBuckets = 4156;

  void Record(double ms) {
    counts_[Bucket(ms)].fetch_add(1, std::memory_order_relaxed);
    total_.fetch_add(1, std::memory_order_relaxed);
  }

  // The value below which a share `p` (0..1) of the recorded latencies fall, as the middle
  // of the bucket holding it; 0 when nothing was recorded.
  double Percentile(double p) const {
    const uint64_t total = total_.load(std::memory_order_relaxed);
    if (total == 0) {
      return 0;
    }
    // The same order statistic as sorting and taking element floor(p * n).
    const uint64_t rank = std::min(total - 1, static_cast<uint64_t>(p * static_cast<double>(total)));
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i].load(std::memory_order_relaxed);
      if (seen > rank) {
        return kMinMs * std::pow(kGrowth, static_cast<double>(i) + 0.5);
      }
    }
    return kMaxMs;
  }

  uint64_t count() const { return total_.load(std::memory_order_relaxed); }

 private:
  static size_t Bucket(double ms) {
    if (!(ms > kMinMs)) {  // also NaN
      return 0;
    }
    const double index = std::log(ms / kMinMs) / std::log(kGrowth);
    return std::min(kBuckets - 1, static_cast<size_t>(index));
  }

  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> total_{0};
};

}  // namespace agentbudget::authority
