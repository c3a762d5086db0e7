#include "core/time_zone.h"

#include <gtest/gtest.h>

#include "core/posix_tz_rule.h"

namespace agentbudget::core {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using std::chrono::sys_days;

SysSeconds Utc(int y, unsigned m, unsigned d, int h = 0, int min = 0) {
  return SysSeconds{sys_days{std::chrono::year{y} / m / d}} + hours{h} + std::chrono::minutes{min};
}

LocalSeconds Local(int y, unsigned m, unsigned d, int h = 0, int min = 0) {
  return LocalSeconds{std::chrono::local_days{std::chrono::year{y} / m / d}.time_since_epoch()} +
         hours{h} + std::chrono::minutes{min};
}

TimeZone Berlin() { return TimeZone::Load("Europe/Berlin").value(); }

TEST(TimeZoneTest, BerlinIsOneHourAheadInWinterAndTwoInSummer) {
  EXPECT_EQ(Berlin().OffsetAt(Utc(2026, 1, 15)), 3600);
  EXPECT_EQ(Berlin().OffsetAt(Utc(2026, 7, 15)), 7200);
}

TEST(TimeZoneTest, OffsetsPastTheLastListedTransitionComeFromTheFooterRule) {
  EXPECT_EQ(Berlin().OffsetAt(Utc(2090, 1, 15)), 3600);
  EXPECT_EQ(Berlin().OffsetAt(Utc(2090, 7, 15)), 7200);
  // 2090: last Sunday of March is the 26th; the switch is at 01:00 UTC.
  EXPECT_EQ(Berlin().OffsetAt(Utc(2090, 3, 26, 0, 59)), 3600);
  EXPECT_EQ(Berlin().OffsetAt(Utc(2090, 3, 26, 1, 0)), 7200);
}

TEST(TimeZoneTest, SkippedLocalTimeMapsToTheTransitionInstant) {
  // 2026-03-29 02:30 does not exist in Berlin: clocks jump from 02:00 to 03:00 (01:00 UTC).
  EXPECT_EQ(Berlin().FromLocal(Local(2026, 3, 29, 2, 30)), Utc(2026, 3, 29, 1, 0));
}

TEST(TimeZoneTest, RepeatedLocalTimeMapsToItsFirstOccurrence) {
  // 2026-10-25 02:30 happens twice in Berlin; the first is at 00:30 UTC.
  EXPECT_EQ(Berlin().FromLocal(Local(2026, 10, 25, 2, 30)), Utc(2026, 10, 25, 0, 30));
}

TEST(TimeZoneTest, LocalAndUtcRoundTripOutsideTransitions) {
  const TimeZone zone = TimeZone::Load("America/New_York").value();
  const SysSeconds instant = Utc(2026, 6, 1, 12, 0);
  EXPECT_EQ(zone.FromLocal(zone.ToLocal(instant)), instant);
  EXPECT_EQ(zone.OffsetAt(instant), -4 * 3600);
}

TEST(TimeZoneTest, NamesThatAreNotIanaShapedAreRejected) {
  EXPECT_EQ(TimeZone::Load("../etc/passwd").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(TimeZone::Load("/etc/localtime").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(TimeZone::Load("Mars/Olympus_Mons").error().code, ErrorCode::kNotFound);
}

TEST(TimeZoneTest, UtcNeedsNoZoneFile) {
  auto zone = TimeZone::Load("UTC", "/nonexistent");
  ASSERT_TRUE(zone.ok());
  EXPECT_EQ(zone->OffsetAt(Utc(2026, 7, 1)), 0);
}

TEST(TimeZoneTest, TruncatedOrGarbageFilesFailCleanly) {
  EXPECT_FALSE(TimeZone::Parse("x", "").ok());
  EXPECT_FALSE(TimeZone::Parse("x", "TZif2").ok());
  std::string header = "TZif2" + std::string(15, '\0') + std::string(24, '\xff');
  EXPECT_FALSE(TimeZone::Parse("x", header).ok());
}

TEST(PosixTzRuleTest, SouthernHemisphereDaylightTimeSpansTheNewYear) {
  // Sydney: AEST-10AEDT,M10.1.0,M4.1.0/3.
  auto rule = PosixTzRule::Parse("AEST-10AEDT,M10.1.0,M4.1.0/3");
  ASSERT_TRUE(rule.ok());
  EXPECT_EQ(rule->OffsetAt(Utc(2090, 1, 10)), 11 * 3600);
  EXPECT_EQ(rule->OffsetAt(Utc(2090, 7, 10)), 10 * 3600);
}

TEST(PosixTzRuleTest, QuotedNamesAndFractionalOffsetsParse) {
  auto rule = PosixTzRule::Parse("<+0530>-5:30");
  ASSERT_TRUE(rule.ok());
  EXPECT_EQ(rule->OffsetAt(Utc(2090, 1, 1)), 5 * 3600 + 1800);
}

TEST(PosixTzRuleTest, MalformedRulesAreRejected) {
  for (const char* text : {"", "C", "CET", "CET-1CEST", "CET-1CEST,M13.5.0,M10.5.0",
                           "CET-1CEST,M3.5.0", "CET-1CEST,M3.5.0,M10.5.0/999", "<+05"}) {
    EXPECT_FALSE(PosixTzRule::Parse(text).ok()) << text;
  }
}

}  // namespace
}  // namespace agentbudget::core
