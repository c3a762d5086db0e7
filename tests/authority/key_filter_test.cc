#include "operator/authority/key_filter.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <random>

namespace agentbudget::authority {
namespace {

using std::chrono::seconds;
using Steady = std::chrono::steady_clock::time_point;

const Steady kStart{std::chrono::hours{1000}};

TEST(KeyFilterTest, EveryDigestAddedWithinTheWindowIsHeld) {
  KeyFilter filter(seconds{3600}, uint64_t{1} << 16);
  for (uint64_t digest = 1; digest <= 2000; ++digest) {
    filter.Add(digest * 0x9e3779b97f4a7c15ULL, kStart + seconds{digest});
  }
  for (uint64_t digest = 1; digest <= 2000; ++digest) {
    EXPECT_TRUE(filter.MayContain(digest * 0x9e3779b97f4a7c15ULL)) << digest;
  }
}

TEST(KeyFilterTest, FewDigestsNeverAddedAreHeld) {
  KeyFilter filter(seconds{3600}, uint64_t{1} << 16);
  for (uint64_t digest = 0; digest < 2000; ++digest) {
    filter.Add(digest, kStart);
  }
  int false_positives = 0;
  for (uint64_t digest = 1'000'000; digest < 1'010'000; ++digest) {
    false_positives += filter.MayContain(digest) ? 1 : 0;
  }
  // 2,000 digests in 65,536 bits, 3 probes: about 0.07 % expected.
  EXPECT_LT(false_positives, 100);
}

TEST(KeyFilterTest, DigestsAreForgottenWithinTwoWindows) {
  KeyFilter filter(seconds{100}, uint64_t{1} << 12);
  filter.Add(42, kStart);
  filter.Add(7, kStart + seconds{100});  // rotates: 42 is in the previous generation
  EXPECT_TRUE(filter.MayContain(42));
  filter.Add(8, kStart + seconds{200});  // rotates again: 42 is gone, 7 kept
  EXPECT_FALSE(filter.MayContain(42));
  EXPECT_TRUE(filter.MayContain(7));
  filter.Add(9, kStart + seconds{500});  // long idle: both generations are past
  EXPECT_FALSE(filter.MayContain(7));
  EXPECT_FALSE(filter.MayContain(8));
  EXPECT_TRUE(filter.MayContain(9));
}

// The ledger's default (Ledger::Options::key_filter_bits, 2^27 bits a generation) at
// 5,000 pairs/s sustained for an hour: 18 million keys in each generation. Scaled down by
// 2^7 with the same keys per bit: 140,625 keys in 2^20 bits, both generations full.
TEST(KeyFilterTest, AtFiveThousandPairsASecondAboutSevenPercentOfNewKeysLookOld) {
  KeyFilter filter(seconds{3600}, uint64_t{1} << 20);
  // Key digests are FNV-1a hashes: random 64-bit values.
  std::mt19937_64 random(17);
  constexpr int kKeys = 140'625;
  for (int i = 0; i < 2 * kKeys; ++i) {
    // The first half lands in the generation that rotates to previous.
    filter.Add(random(), kStart + seconds{i < kKeys ? 0 : 3600});
  }
  int false_positives = 0;
  constexpr int kProbed = 100'000;
  for (int i = 0; i < kProbed; ++i) {
    false_positives += filter.MayContain(random()) ? 1 : 0;
  }
  // 1 - (1 - (1 - e^(-3 * 140,625 / 2^20))^3)^2 = 7.1 %.
  EXPECT_GT(false_positives, kProbed * 6 / 100);
  EXPECT_LT(false_positives, kProbed * 8 / 100);
}

}  // namespace
}  // namespace agentbudget::authority
