#include "core/time_format.h"

#include <cstdio>

namespace agentbudget::core {

std::string FormatRfc3339(core::SysSeconds instant) {
  const auto day = std::chrono::floor<std::chrono::days>(instant);
  const std::chrono::year_month_day date{day};
  const std::chrono::hh_mm_ss time{instant - day};
  char text[32];
  std::snprintf(text, sizeof(text), "%04d-%02u-%02uT%02d:%02d:%02dZ",
                static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()), static_cast<int>(time.hours().count()),
                static_cast<int>(time.minutes().count()),
                static_cast<int>(time.seconds().count()));
  return text;
}

Result<core::SysSeconds> ParseRfc3339(const std::string& text) {
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  char zulu = 0;
  int consumed = 0;
  const bool date_only = text.size() == 10 &&
                         std::sscanf(text.c_str(), "%4d-%2u-%2u%n", &year, &month, &day,
                                     &consumed) == 3 && consumed == 10;
  const bool full = !date_only && text.size() == 20 &&
                    std::sscanf(text.c_str(), "%4d-%2u-%2uT%2d:%2d:%2d%c%n", &year, &month, &day,
                                &hour, &minute, &second, &zulu, &consumed) == 7 &&
                    consumed == 20 && zulu == 'Z';
  const std::chrono::year_month_day date{std::chrono::year{year} / month / day};
  if ((!date_only && !full) || !date.ok() || hour > 23 || minute > 59 || second > 59 ||
      hour < 0 || minute < 0 || second < 0) {
    return InvalidArgument("\"" + text + "\" is not a UTC time like 2026-11-27T21:00:00Z");
  }
  return core::SysSeconds{std::chrono::sys_days{date}} + std::chrono::hours{hour} +
         std::chrono::minutes{minute} + std::chrono::seconds{second};
}

}  // namespace agentbudget::core
