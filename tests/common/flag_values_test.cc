#include "common/flag_values.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace agentbudget::flags {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(FlagValuesTest, PortsAreWholeNumbersInRange) {
  EXPECT_EQ(*ParsePort("8443", PortRule::kNonZero), 8443);
  EXPECT_EQ(*ParsePort("65535", PortRule::kNonZero), 65535);
  EXPECT_EQ(*ParsePort("0", PortRule::kAllowZero), 0);
  for (const char* bad : {"", "80x", " 80", "+80", "-1", "65536", "99999999999999999999"}) {
    auto port = ParsePort(bad, PortRule::kAllowZero);
    ASSERT_FALSE(port.ok()) << bad;
    EXPECT_EQ(port.error().message,
              "port \"" + std::string(bad) + "\" is not a number in 0..65535");
  }
  auto zero = ParsePort("0", PortRule::kNonZero);
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.error().message, "port \"0\" is not a number in 1..65535");
}

TEST(FlagValuesTest, ListenAddressesAreHostColonPort) {
  auto address = ParseListenAddress("0.0.0.0:8443", PortRule::kNonZero);
  ASSERT_TRUE(address.ok());
  EXPECT_EQ(*address, (ListenAddress{"0.0.0.0", 8443}));
  EXPECT_EQ(address->ToString(), "0.0.0.0:8443");
  auto ipv6 = ParseListenAddress("[::1]:0", PortRule::kAllowZero);
  ASSERT_TRUE(ipv6.ok()) << ipv6.error().message;
  EXPECT_EQ(*ipv6, (ListenAddress{"::1", 0}));
  EXPECT_EQ(ipv6->ToString(), "[::1]:0");
}

TEST(FlagValuesTest, MalformedListenAddressesNameTheProblem) {
  const std::pair<const char*, const char*> cases[] = {
      {"8443", "\"8443\" is not HOST:PORT"},
      {":8443", "\":8443\" is not HOST:PORT"},
      {"localhost:80x", "port \"80x\" is not a number in 1..65535"},
      {"localhost:", "port \"\" is not a number"},
      {"::1:80", "IPv6 hosts go in brackets"},
      {"[::1:80", "IPv6 hosts go in brackets"},
  };
  for (const auto& [text, expected] : cases) {
    auto address = ParseListenAddress(text, PortRule::kNonZero);
    ASSERT_FALSE(address.ok()) << text;
    EXPECT_NE(address.error().message.find(expected), std::string::npos)
        << address.error().message;
  }
}

TEST(FlagValuesTest, IntegersAreCheckedAgainstTheirRange) {
  EXPECT_EQ(*ParseInt("42", 1, 100), 42);
  EXPECT_EQ(*ParseInt("-5", -10, 0), -5);
  EXPECT_EQ(ParseInt("0", 1, std::numeric_limits<int64_t>::max()).error().message,
            "\"0\" is not a positive integer");
  EXPECT_EQ(ParseInt("-1", 0, std::numeric_limits<int64_t>::max()).error().message,
            "\"-1\" is not a non-negative integer");
  EXPECT_EQ(ParseInt("101", 1, 100).error().message, "\"101\" is not an integer in 1..100");
  for (const char* bad : {"", "-", "1.5", "1e3", " 1", "1 ", "0x10", "9223372036854775808"}) {
    EXPECT_FALSE(ParseInt(bad, 0, std::numeric_limits<int64_t>::max()).ok()) << bad;
  }
}

TEST(FlagValuesTest, BooleansAreExactlyTrueOrFalse) {
  EXPECT_TRUE(*ParseBool("true"));
  EXPECT_FALSE(*ParseBool("false"));
  for (const char* bad : {"", "1", "yes", "True", "FALSE"}) {
    auto parsed = ParseBool(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.error().message.find("is neither true nor false"), std::string::npos);
  }
}

TEST(FlagValuesTest, BareDurationsCountTheFlagsUnit) {
  EXPECT_EQ(*ParseDuration("200", milliseconds{1}), milliseconds{200});
  EXPECT_EQ(*ParseDuration("60", seconds{1}), seconds{60});
}

TEST(FlagValuesTest, DurationsMayStateTheirUnit) {
  EXPECT_EQ(*ParseDuration("250ms", milliseconds{1}), milliseconds{250});
  EXPECT_EQ(*ParseDuration("2s", milliseconds{1}), seconds{2});
  EXPECT_EQ(*ParseDuration("10m", seconds{1}), std::chrono::minutes{10});
  EXPECT_EQ(*ParseDuration("1h", seconds{1}), std::chrono::hours{1});
}

TEST(FlagValuesTest, DurationsArePositiveWholeUnits) {
  for (const char* bad : {"", "0", "-5", "5x", "ms", "1.5s", "2 s", "5sec"}) {
    auto duration = ParseDuration(bad, milliseconds{1});
    ASSERT_FALSE(duration.ok()) << bad;
    EXPECT_NE(duration.error().message.find("is not a positive duration"), std::string::npos)
        << duration.error().message;
  }
  auto partial = ParseDuration("1500ms", seconds{1});
  ASSERT_FALSE(partial.ok());
  EXPECT_NE(partial.error().message.find("not a whole number of seconds"), std::string::npos);
}

TEST(FlagValuesTest, MoneyIsANonNegativeDecimal) {
  EXPECT_EQ(*ParseMoney("2.50"), core::Money::FromMicros(2'500'000));
  EXPECT_EQ(*ParseMoney("0"), core::Money{});
  EXPECT_NE(ParseMoney("1e3").error().message.find("invalid amount"), std::string::npos);
  EXPECT_NE(ParseMoney("-1").error().message.find("is negative"), std::string::npos);
}

TEST(FlagValuesTest, ListsAreTrimmedAndSkipEmptyItems) {
  EXPECT_EQ(SplitList(" a, b ,,c "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(SplitList("").empty());
}

}  // namespace
}  // namespace agentbudget::flags
