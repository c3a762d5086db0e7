#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace agentbudget::authority {

// Which 64-bit digests (idempotency keys, reservation ids) were added within the last
// `window`, as a Bloom filter of fixed size: MayContain is true for every digest added
// within the window, and for a few others (false positives, more as the window fills), so
// the ledger asks its store only about digests the filter may hold. Two generations, each
// spanning the whole window: a digest is forgotten between one and two windows after it
// was added. Memory: 2 x `bits_per_generation` / 8 bytes, whatever the rate.
// Not thread-safe.
class KeyFilter {
 public:
  // REQUIRES: bits_per_generation is a power of two, at least 64.
  KeyFilter(std::chrono::seconds window, uint64_t bits_per_generation);

  void Add(uint64_t digest, std::chrono::steady_clock::time_point now);
  bool MayContain(uint64_t digest) const;

 private:
  void Rotate(std::chrono::steady_clock::time_point now);
  void Set(std::vector<uint64_t>& words, uint64_t digest);
  bool Holds(const std::vector<uint64_t>& words, uint64_t digest) const;

  const std::chrono::seconds window_;
  const uint64_t mask_;  // bits per generation - 1
  std::vector<uint64_t> current_;
  std::vector<uint64_t> previous_;
  std::chrono::steady_clock::time_point current_since_{};
  bool started_ = false;
};

}  // namespace agentbudget::authority
