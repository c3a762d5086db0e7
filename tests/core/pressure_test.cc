#include "core/pressure.h"

#include <gtest/gtest.h>

namespace agentbudget::core {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

const SysSeconds kStart{seconds{1'800'000'000}};

TEST(PressureTest, LevelsRiseWithCommittedSpend) {
  const PressurePolicy policy{80, 90, 0, false};
  EXPECT_EQ(PressureOf(100, policy, 79, 0), Pressure::kNone);
  EXPECT_EQ(PressureOf(100, policy, 80, 0), Pressure::kDegrade);
  EXPECT_EQ(PressureOf(100, policy, 90, 0), Pressure::kQueue);
  EXPECT_EQ(PressureOf(100, policy, 100, 0), Pressure::kExhausted);
}

TEST(PressureTest, ForecastRaisesPressureOnlyWhenEnabled) {
  EXPECT_EQ(PressureOf(100, {80, 90, 0, false}, 10, 200), Pressure::kNone);
  EXPECT_EQ(PressureOf(100, {80, 90, 0, true}, 10, 200), Pressure::kDegrade);
}

TEST(PressureTest, UtilizationRoundsDownAndNeverOverflows) {
  EXPECT_EQ(UtilizationPercent(999, 1000), 99);
  EXPECT_EQ(UtilizationPercent(INT64_MAX, INT64_MAX), 100);
  EXPECT_EQ(UtilizationPercent(5, 0), 0);
}

TEST(BurnRateTest, RateIsSpendOverTheTrailingHour) {
  BurnRate burn;
  burn.Record(kStart + minutes{10}, 600);
  burn.Record(kStart + minutes{50}, 600);
  EXPECT_EQ(burn.PerHour(kStart + minutes{60}, kStart - minutes{600}), 1200);
  // Twenty minutes later the first sample has left the window.
  EXPECT_EQ(burn.PerHour(kStart + minutes{80}, kStart - minutes{600}), 600);
}

TEST(BurnRateTest, FreshPeriodIsMeasuredOverItsOwnLength) {
  BurnRate burn;
  burn.Record(kStart + minutes{5}, 100);
  EXPECT_EQ(burn.PerHour(kStart + minutes{10}, kStart), 600);
}

TEST(BurnRateTest, ForecastProjectsTheRateToThePeriodEnd) {
  const PeriodWindow window{kStart, kStart + std::chrono::hours{10}};
  EXPECT_EQ(Forecast(100, 50, kStart + std::chrono::hours{4}, window), 400);
  EXPECT_EQ(Forecast(100, 50, kStart, PeriodWindow{SysSeconds{}, SysSeconds::max()}), 100);
}

}  // namespace
}  // namespace agentbudget::core
