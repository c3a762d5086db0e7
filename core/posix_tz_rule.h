#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace agentbudget::core {

// A POSIX TZ rule as found in the footer of a TZif file (RFC 8536 §3.3), such as
// "CET-1CEST,M3.5.0,M10.5.0/3" or "<+0530>-5:30". Gives the UTC offset at any instant,
// so zones stay correct past the last transition a file lists. A value type.
class PosixTzRule {
 public:
  // Parses `text`. Fails with kInvalidArgument for anything that is not a POSIX TZ string
  // with the RFC 8536 extensions (hours up to ±167 in rule times).
  static Result<PosixTzRule> Parse(std::string_view text);

  // Seconds east of UTC in force at `instant`.
  int32_t OffsetAt(std::chrono::sys_seconds instant) const;

  // A transition date: Jn, n or Mm.w.d.
  struct Date {
    enum class Kind { kJulianNoLeap, kZeroBasedDay, kMonthWeekDay } kind = Kind::kZeroBasedDay;
    int day = 0;    // Jn: 1..365; n: 0..365; Mm.w.d: weekday 0 (Sunday)..6
    int month = 0;  // Mm.w.d only: 1..12
    int week = 0;   // Mm.w.d only: 1..5 (5 = last)
  };

 private:
  // Local (standard or daylight) wall-clock seconds since the start of `year` → UTC.
  int64_t TransitionUtc(int year, const Date& date, int32_t time_of_day, int32_t offset) const;

  int32_t std_offset_ = 0;  // seconds east of UTC
  bool has_dst_ = false;
  int32_t dst_offset_ = 0;
  Date start_;
  Date end_;
  int32_t start_time_ = 7200;  // default 02:00 local
  int32_t end_time_ = 7200;
};

}  // namespace agentbudget::core
