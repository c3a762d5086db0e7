#include "operator/authority/key_filter.h"

#include <algorithm>
#include <cassert>

namespace agentbudget::authority {
namespace {

// Bits set per digest: 3 minimises false positives at about 30 % fill.
constexpr int kProbes = 3;

// A well-mixed 64-bit value for probe `i` of `digest` (splitmix64's finaliser): digests
// are already hashes, but those of nearby keys share bits.
uint64_t Probe(uint64_t digest, int i) {
  uint64_t x = digest + 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(i + 1);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

KeyFilter::KeyFilter(std::chrono::seconds window, uint64_t bits_per_generation)
    : window_(window),
      mask_(bits_per_generation - 1),
      current_(bits_per_generation / 64),
      previous_(bits_per_generation / 64) {
  assert(bits_per_generation >= 64 && (bits_per_generation & mask_) == 0);
}

void KeyFilter::Rotate(std::chrono::steady_clock::time_point now) {
  if (!started_) {
    started_ = true;
    current_since_ = now;
    return;
  }
  if (now - current_since_ < window_) {
    return;
  }
  // The previous generation's digests are all older than the window now.
  previous_.swap(current_);
  std::fill(current_.begin(), current_.end(), 0);
  if (now - current_since_ >= 2 * window_) {
    std::fill(previous_.begin(), previous_.end(), 0);
  }
  current_since_ = now;
}

void KeyFilter::Set(std::vector<uint64_t>& words, uint64_t digest) {
  for (int i = 0; i < kProbes; ++i) {
    const uint64_t bit = Probe(digest, i) & mask_;
    words[bit / 64] |= uint64_t{1} << (bit % 64);
  }
}

bool KeyFilter::Holds(const std::vector<uint64_t>& words, uint64_t digest) const {
  for (int i = 0; i < kProbes; ++i) {
    const uint64_t bit = Probe(digest, i) & mask_;
    if ((words[bit / 64] & (uint64_t{1} << (bit % 64))) == 0) {
      return false;
    }
  }
  return true;
}

void KeyFilter::Add(uint64_t digest, std::chrono::steady_clock::time_point now) {
  Rotate(now);
  Set(current_, digest);
}

bool KeyFilter::MayContain(uint64_t digest) const {
  return Holds(current_, digest) || Holds(previous_, digest);
}

}  // namespace agentbudget::authority
