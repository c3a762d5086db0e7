#include "operator/authority/ttl_cache.h"

#include <gtest/gtest.h>

#include <string>

namespace agentbudget::authority {
namespace {

using std::chrono::seconds;
using TimePoint = std::chrono::steady_clock::time_point;

const TimePoint kStart{std::chrono::hours{1}};

TEST(TtlCacheTest, AnEntryIsForgottenTtlAfterItWasPut) {
  TtlCache<std::string, int> cache(seconds{10}, 4);
  cache.Put("a", 1, kStart);
  EXPECT_EQ(cache.Get("a", kStart + seconds{9}), 1);
  EXPECT_EQ(cache.Get("a", kStart + seconds{10}), std::nullopt);
  EXPECT_EQ(cache.size(), 0U);
}

TEST(TtlCacheTest, TheLeastRecentlyUsedEntryGoesFirst) {
  TtlCache<std::string, int> cache(seconds{10}, 2);
  cache.Put("a", 1, kStart);
  cache.Put("b", 2, kStart);
  EXPECT_EQ(cache.Get("a", kStart), 1);  // b is now the least recently used
  cache.Put("c", 3, kStart);
  EXPECT_EQ(cache.Get("b", kStart), std::nullopt);
  EXPECT_EQ(cache.Get("a", kStart), 1);
  EXPECT_EQ(cache.Get("c", kStart), 3);
}

TEST(TtlCacheTest, PuttingAKeyAgainReplacesItsValueAndTtl) {
  TtlCache<std::string, int> cache(seconds{10}, 2);
  cache.Put("a", 1, kStart);
  cache.Put("a", 2, kStart + seconds{5});
  EXPECT_EQ(cache.size(), 1U);
  EXPECT_EQ(cache.Get("a", kStart + seconds{12}), 2);
}

TEST(TtlCacheTest, AFloodOfKeysStaysWithinTheCapacity) {
  TtlCache<std::string, int> cache(seconds{10}, 100);
  for (int i = 0; i < 100'000; ++i) {
    cache.Put("key-" + std::to_string(i), i, kStart);
  }
  EXPECT_EQ(cache.size(), 100U);
  EXPECT_EQ(cache.Get("key-99999", kStart), 99'999);
}

}  // namespace
}  // namespace agentbudget::authority
