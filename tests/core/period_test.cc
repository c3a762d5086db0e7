#include "core/period.h"

#include <gtest/gtest.h>

namespace agentbudget::core {
namespace {

using std::chrono::hours;
using std::chrono::sys_days;

SysSeconds Utc(int y, unsigned m, unsigned d, int h = 0, int min = 0) {
  return SysSeconds{sys_days{std::chrono::year{y} / m / d}} + hours{h} + std::chrono::minutes{min};
}

TimeZone Zone(const char* name) { return TimeZone::Load(name).value(); }

TEST(PeriodTest, DayStartsAtLocalMidnight) {
  const auto window = PeriodContaining(PeriodKind::kDay, Zone("Europe/Berlin"), Utc(2026, 7, 1, 23));
  // 23:00 UTC is 01:00 on July 2nd in Berlin (UTC+2).
  EXPECT_EQ(window.start, Utc(2026, 7, 1, 22));
  EXPECT_EQ(window.end, Utc(2026, 7, 2, 22));
}

TEST(PeriodTest, SpringForwardDayLastsTwentyThreeHours) {
  const auto window = PeriodContaining(PeriodKind::kDay, Zone("Europe/Berlin"), Utc(2026, 3, 29, 12));
  EXPECT_EQ(window.end - window.start, hours{23});
}

TEST(PeriodTest, FallBackDayLastsTwentyFiveHours) {
  const auto window =
      PeriodContaining(PeriodKind::kDay, Zone("America/New_York"), Utc(2026, 11, 1, 12));
  EXPECT_EQ(window.end - window.start, hours{25});
}

TEST(PeriodTest, DayWhoseMidnightIsSkippedStartsWhenTheClockJumps) {
  // Santiago springs forward at local midnight: 2026-09-06 00:00 becomes 01:00 (04:00 UTC).
  const auto window =
      PeriodContaining(PeriodKind::kDay, Zone("America/Santiago"), Utc(2026, 9, 6, 12));
  EXPECT_EQ(window.start, Utc(2026, 9, 6, 4));
  EXPECT_TRUE(window.Contains(Utc(2026, 9, 6, 12)));
}

TEST(PeriodTest, WeekStartsOnMonday) {
  // 2026-11-27 is a Friday; its ISO week starts on Monday the 23rd.
  const auto window = PeriodContaining(PeriodKind::kWeek, TimeZone::Utc(), Utc(2026, 11, 27, 9));
  EXPECT_EQ(window.start, Utc(2026, 11, 23));
  EXPECT_EQ(window.end, Utc(2026, 11, 30));
}

TEST(PeriodTest, MonthFollowsTheLocalCalendar) {
  // 2026-01-31 23:30 UTC is already February 1st in Tokyo.
  const auto window =
      PeriodContaining(PeriodKind::kMonth, Zone("Asia/Tokyo"), Utc(2026, 1, 31, 23, 30));
  EXPECT_EQ(window.start, Utc(2026, 1, 31, 15));
  EXPECT_EQ(window.end, Utc(2026, 2, 28, 15));
}

TEST(PeriodTest, QuarterStartsInJanuaryAprilJulyOrOctober) {
  const auto window = PeriodContaining(PeriodKind::kQuarter, TimeZone::Utc(), Utc(2026, 5, 17));
  EXPECT_EQ(window.start, Utc(2026, 4, 1));
  EXPECT_EQ(window.end, Utc(2026, 7, 1));
}

TEST(PeriodTest, NeverIsOneWindowForAllTime) {
  const auto window = PeriodContaining(PeriodKind::kNever, TimeZone::Utc(), Utc(2026, 5, 17));
  EXPECT_TRUE(window.Contains(Utc(1999, 1, 1)));
  EXPECT_TRUE(window.Contains(Utc(2199, 1, 1)));
}

TEST(PeriodTest, ConsecutiveWindowsTileTimeAcrossAYearOfDaylightChanges) {
  for (const char* name : {"Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                           "America/Santiago", "Asia/Kolkata"}) {
    const TimeZone zone = Zone(name);
    for (PeriodKind kind : {PeriodKind::kDay, PeriodKind::kWeek, PeriodKind::kMonth}) {
      PeriodWindow window = PeriodContaining(kind, zone, Utc(2026, 1, 1, 12));
      while (window.start < Utc(2027, 1, 1)) {
        const PeriodWindow next = PeriodContaining(kind, zone, window.end);
        ASSERT_EQ(next.start, window.end) << name;
        ASSERT_GT(next.end, next.start) << name;
        window = next;
      }
    }
  }
}

TEST(PeriodTest, UnknownPeriodNamesAreRejected) {
  EXPECT_EQ(ParsePeriodKind("Fortnight").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(*ParsePeriodKind("Quarter"), PeriodKind::kQuarter);
}

}  // namespace
}  // namespace agentbudget::core
