#include "core/posix_tz_rule.h"

#include <cctype>

namespace agentbudget::core {
namespace {

using std::chrono::days;
using std::chrono::sys_days;

// A cursor over the rule text with the small parsers POSIX TZ needs.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}
  bool done() const { return pos_ >= text_.size(); }
  char peek() const { return done() ? '\0' : text_[pos_]; }
  bool Consume(char c) {
    if (peek() == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  // A zone abbreviation: 3+ letters, or <...> holding letters, digits, '+' and '-'.
  bool Name() {
    if (Consume('<')) {
      size_t start = pos_;
      while (!done() && peek() != '>') {
        char c = peek();
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-') {
          return false;
        }
        ++pos_;
      }
      return pos_ - start >= 3 && Consume('>');
    }
    size_t start = pos_;
    while (std::isalpha(static_cast<unsigned char>(peek()))) {
      ++pos_;
    }
    return pos_ - start >= 3;
  }

  bool Number(int max, int* out) {
    if (!std::isdigit(static_cast<unsigned char>(peek()))) {
      return false;
    }
    int value = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      value = value * 10 + (text_[pos_++] - '0');
      if (value > max) {
        return false;
      }
    }
    *out = value;
    return true;
  }

  // [+-]hh[:mm[:ss]] in seconds; `max_hours` is 24 for offsets, 167 for rule times.
  bool Time(int max_hours, int32_t* out) {
    int sign = 1;
    if (Consume('-')) {
      sign = -1;
    } else {
      Consume('+');
    }
    int hours = 0;
    int minutes = 0;
    int seconds = 0;
    if (!Number(max_hours, &hours)) {
      return false;
    }
    if (Consume(':')) {
      if (!Number(59, &minutes)) {
        return false;
      }
      if (Consume(':') && !Number(59, &seconds)) {
        return false;
      }
    }
    *out = sign * (hours * 3600 + minutes * 60 + seconds);
    return true;
  }

  bool RuleDate(PosixTzRule::Date* date) {
    using Kind = PosixTzRule::Date::Kind;
    if (Consume('J')) {
      date->kind = Kind::kJulianNoLeap;
      return Number(365, &date->day) && date->day >= 1;
    }
    if (Consume('M')) {
      date->kind = Kind::kMonthWeekDay;
      return Number(12, &date->month) && date->month >= 1 && Consume('.') &&
             Number(5, &date->week) && date->week >= 1 && Consume('.') && Number(6, &date->day);
    }
    date->kind = Kind::kZeroBasedDay;
    return Number(365, &date->day);
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

// The day (as sys_days) a rule date falls on in `year`.
sys_days DayOf(int year, const PosixTzRule::Date& date) {
  using Kind = PosixTzRule::Date::Kind;
  const std::chrono::year y{year};
  const sys_days jan1{y / std::chrono::January / 1};
  switch (date.kind) {
    case Kind::kJulianNoLeap: {
      // Day 1..365, February 29 never counted.
      int offset = date.day - 1;
      if (y.is_leap() && date.day >= 60) {
        offset += 1;
      }
      return jan1 + days{offset};
    }
    case Kind::kZeroBasedDay:
      return jan1 + days{date.day};
    case Kind::kMonthWeekDay: {
      const std::chrono::month m{static_cast<unsigned>(date.month)};
      const std::chrono::weekday wd{static_cast<unsigned>(date.day)};
      if (date.week == 5) {
        return sys_days{y / m / wd[std::chrono::last]};
      }
      return sys_days{y / m / wd[static_cast<unsigned>(date.week)]};
    }
  }
  return jan1;
}

}  // namespace

Result<PosixTzRule> PosixTzRule::Parse(std::string_view text) {
  auto bad = [&](const char* what) {
    return InvalidArgument("time zone rule \"" + std::string(text) + "\": " + what);
  };
  PosixTzRule rule;
  Cursor cursor(text);
  int32_t posix_offset = 0;
  if (!cursor.Name()) {
    return bad("bad standard-time name");
  }
  if (!cursor.Time(24, &posix_offset)) {
    return bad("bad standard offset");
  }
  // POSIX offsets count hours west of UTC; store seconds east.
  rule.std_offset_ = -posix_offset;
  if (cursor.done()) {
    return rule;
  }
  if (!cursor.Name()) {
    return bad("bad daylight-time name");
  }
  rule.has_dst_ = true;
  rule.dst_offset_ = rule.std_offset_ + 3600;
  if (cursor.peek() != ',' && !cursor.done()) {
    if (!cursor.Time(24, &posix_offset)) {
      return bad("bad daylight offset");
    }
    rule.dst_offset_ = -posix_offset;
  }
  if (!cursor.Consume(',')) {
    return bad("daylight time without a rule");
  }
  if (!cursor.RuleDate(&rule.start_)) {
    return bad("bad start date");
  }
  if (cursor.Consume('/') && !cursor.Time(167, &rule.start_time_)) {
    return bad("bad start time");
  }
  if (!cursor.Consume(',') || !cursor.RuleDate(&rule.end_)) {
    return bad("bad end date");
  }
  if (cursor.Consume('/') && !cursor.Time(167, &rule.end_time_)) {
    return bad("bad end time");
  }
  if (!cursor.done()) {
    return bad("trailing characters");
  }
  return rule;
}

int64_t PosixTzRule::TransitionUtc(int year, const Date& date, int32_t time_of_day,
                                   int32_t offset) const {
  const int64_t day_start = DayOf(year, date).time_since_epoch().count() * int64_t{86400};
  return day_start + time_of_day - offset;
}

int32_t PosixTzRule::OffsetAt(std::chrono::sys_seconds instant) const {
  if (!has_dst_) {
    return std_offset_;
  }
  const int64_t t = instant.time_since_epoch().count();
  const auto local_day = std::chrono::floor<days>(instant + std::chrono::seconds{std_offset_});
  const int year = static_cast<int>(std::chrono::year_month_day{local_day}.year());
  // Daylight time starts at a wall-clock time read in standard time, and ends at one read
  // in daylight time.
  const int64_t start = TransitionUtc(year, start_, start_time_, std_offset_);
  const int64_t end = TransitionUtc(year, end_, end_time_, dst_offset_);
  const bool in_dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
  return in_dst ? dst_offset_ : std_offset_;
}

}  // namespace agentbudget::core
