#include "core/money.h"

#include <gtest/gtest.h>

#include <limits>

namespace agentbudget::core {
namespace {

TEST(MoneyTest, ParsesWholeAndFractionalAmounts) {
  EXPECT_EQ(Money::Parse("5000")->micros(), 5'000'000'000);
  EXPECT_EQ(Money::Parse("12.5")->micros(), 12'500'000);
  EXPECT_EQ(Money::Parse("0.000001")->micros(), 1);
  EXPECT_EQ(Money::Parse("-3.25")->micros(), -3'250'000);
  EXPECT_EQ(Money::Parse(".5")->micros(), 500'000);
}

TEST(MoneyTest, RejectsWhatIsNotAPlainDecimal) {
  for (const char* bad : {"", "-", ".", "1.", "1e3", "1.0000001", " 1", "1,000", "abc", "1.2.3",
                          "99999999999999999999"}) {
    auto parsed = Money::Parse(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(parsed.error().message.find("invalid amount"), std::string::npos);
  }
}

TEST(MoneyTest, RefusesAnAmountWhoseFractionOverflows) {
  // The whole part fits in micro-dollars; adding the fraction does not.
  for (const char* big : {"9223372036854.775808", "-00000009223372036854.775809"}) {
    auto parsed = Money::Parse(big);
    ASSERT_FALSE(parsed.ok()) << big;
    EXPECT_NE(parsed.error().message.find("too large"), std::string::npos) << big;
  }
  EXPECT_EQ(Money::Parse("9223372036854.775807")->micros(), INT64_MAX);
}

TEST(MoneyTest, PrintsCanonicalDecimals) {
  EXPECT_EQ(Money::FromMicros(5'000'000'000).ToString(), "5000");
  EXPECT_EQ(Money::FromMicros(12'500'000).ToString(), "12.5");
  EXPECT_EQ(Money::FromMicros(-1).ToString(), "-0.000001");
  EXPECT_EQ(Money::FromMicros(0).ToString(), "0");
}

TEST(MoneyTest, RoundsHalfAwayFromZeroForDisplay) {
  EXPECT_EQ(Money::FromMicros(12'345'000).ToFixed(2), "12.35");
  EXPECT_EQ(Money::FromMicros(-12'345'000).ToFixed(2), "-12.35");
  EXPECT_EQ(Money::FromMicros(999'999).ToFixed(0), "1");
  EXPECT_EQ(Money::FromMicros(1).ToFixed(6), "0.000001");
}

TEST(MoneyTest, ArithmeticSaturatesInsteadOfOverflowing) {
  const Money max = Money::FromMicros(std::numeric_limits<int64_t>::max());
  const Money min = Money::FromMicros(std::numeric_limits<int64_t>::min());
  EXPECT_EQ(max + Money::FromMicros(1), max);
  EXPECT_EQ(min - Money::FromMicros(1), min);
  EXPECT_EQ(Money::FromMicros(0) - min, max);
  EXPECT_EQ(Money::FromMicros(7) - Money::FromMicros(9), Money::FromMicros(-2));
}

}  // namespace
}  // namespace agentbudget::core
