#include "core/pricing.h"

#include <gtest/gtest.h>

#include "tests/core/sonnet_rate.h"

namespace agentbudget::core {
namespace {

ModelRate Sonnet() {
  ModelRate rate = testing::SonnetRate();
  TokenPrices long_context = rate.prices;
  long_context.input = Money::FromMicros(6'000'000);
  long_context.output = Money::FromMicros(22'500'000);
  rate.tiers.push_back({200'000, long_context});
  rate.batch_discount_percent = 50;
  return rate;
}

TEST(PricingTest, PricesEachTokenBucketAtItsOwnRate) {
  // 1000 × $3 + 2000 × $0.30 + 100 × $3.75 + 10 × $6 + 500 × $15, per million tokens.
  const Usage usage{1000, 2000, 100, 10, 500, 0};
  EXPECT_EQ(PriceUsage(Sonnet(), usage), Money::FromMicros(3000 + 600 + 375 + 60 + 7500));
}

TEST(PricingTest, NamesTheTokenTypesOfAUsageTheCardDoesNotPrice) {
  ModelRate rate = Sonnet();
  rate.unpriced = {"cacheWrite1h"};
  EXPECT_EQ(UnpricedTypes(rate, Usage{1000, 2000, 100, 10, 500, 0}),
            std::vector<std::string>{"cacheWrite1h"});
  EXPECT_TRUE(UnpricedTypes(rate, Usage{1000, 2000, 100, 0, 500, 0}).empty());
  EXPECT_TRUE(UnpricedTypes(Sonnet(), Usage{1000, 2000, 100, 10, 500, 0}).empty());
}

TEST(PricingTest, RoundsUpToTheNextMicroDollarOnce) {
  // One input token at $3/MTok is 3 micro-dollars; one cache read is 0.3, charged as 1.
  EXPECT_EQ(PriceUsage(Sonnet(), Usage{1, 0, 0, 0, 0, 0}), Money::FromMicros(3));
  EXPECT_EQ(PriceUsage(Sonnet(), Usage{0, 1, 0, 0, 0, 0}), Money::FromMicros(1));
  EXPECT_EQ(PriceUsage(Sonnet(), Usage{0, 10, 0, 0, 0, 0}), Money::FromMicros(3));
  EXPECT_EQ(PriceUsage(Sonnet(), Usage{}), Money::FromMicros(0));
}

TEST(PricingTest, LongContextTierPricesTheWholeRequest) {
  const Usage at_threshold{200'000, 0, 0, 0, 1000, 0};
  EXPECT_EQ(PriceUsage(Sonnet(), at_threshold), Money::FromMicros(600'000 + 15'000));
  const Usage above{150'000, 50'001, 0, 0, 1000, 0};
  EXPECT_EQ(PriceUsage(Sonnet(), above),
            Money::FromMicros(900'000 + 15'001 /* 50001 × 0.3 rounded up */ + 22'500));
}

TEST(PricingTest, AppliesTheBatchDiscountOnlyToBatchRequests) {
  const Usage usage{100'000, 0, 0, 0, 0, 0};
  EXPECT_EQ(PriceUsage(Sonnet(), usage, /*batch=*/false), Money::FromMicros(300'000));
  EXPECT_EQ(PriceUsage(Sonnet(), usage, /*batch=*/true), Money::FromMicros(150'000));
}

TEST(PricingTest, SaturatesInsteadOfOverflowing) {
  const Usage huge{INT64_MAX, 0, 0, 0, INT64_MAX, 0};
  EXPECT_GT(PriceUsage(Sonnet(), huge), Money::FromMicros(0));
}

}  // namespace
}  // namespace agentbudget::core
