#include "core/period.h"

namespace agentbudget::core {
namespace {

using std::chrono::days;
using std::chrono::local_days;
using std::chrono::months;
using std::chrono::year_month_day;

// The local day on which the period containing local day `day` begins, and the one on
// which the next period begins.
std::pair<local_days, local_days> LocalBounds(PeriodKind kind, local_days day) {
  const year_month_day date{day};
  switch (kind) {
    case PeriodKind::kDay:
      return {day, day + days{1}};
    case PeriodKind::kWeek: {
      const std::chrono::weekday weekday{day};
      // ISO weeks start on Monday: c_encoding() is 0 for Sunday.
      const int since_monday = static_cast<int>((weekday.c_encoding() + 6) % 7);
      const local_days monday = day - days{since_monday};
      return {monday, monday + days{7}};
    }
    case PeriodKind::kMonth: {
      const auto first = date.year() / date.month() / 1;
      return {local_days{first}, local_days{first + months{1}}};
    }
    case PeriodKind::kQuarter: {
      const unsigned month = static_cast<unsigned>(date.month());
      const std::chrono::month quarter_start{((month - 1) / 3) * 3 + 1};
      const auto first = date.year() / quarter_start / 1;
      return {local_days{first}, local_days{first + months{3}}};
    }
    case PeriodKind::kNever:
      break;
  }
  return {day, day};
}

}  // namespace

Result<PeriodKind> ParsePeriodKind(std::string_view text) {
  if (text == "Day") {
    return PeriodKind::kDay;
  }
  if (text == "Week") {
    return PeriodKind::kWeek;
  }
  if (text == "Month") {
    return PeriodKind::kMonth;
  }
  if (text == "Quarter") {
    return PeriodKind::kQuarter;
  }
  if (text == "Never") {
    return PeriodKind::kNever;
  }
  return InvalidArgument("period \"" + std::string(text) +
                         "\" is not one of Day, Week, Month, Quarter, Never");
}

std::string_view PeriodKindName(PeriodKind kind) {
  switch (kind) {
    case PeriodKind::kDay:
      return "Day";
    case PeriodKind::kWeek:
      return "Week";
    case PeriodKind::kMonth:
      return "Month";
    case PeriodKind::kQuarter:
      return "Quarter";
    case PeriodKind::kNever:
      return "Never";
  }
  return "Never";
}

PeriodWindow PeriodContaining(PeriodKind kind, const TimeZone& zone, SysSeconds instant) {
  if (kind == PeriodKind::kNever) {
    return {SysSeconds{}, SysSeconds::max()};
  }
  auto window_of = [&](SysSeconds t) {
    const local_days day = std::chrono::floor<days>(zone.ToLocal(t));
    auto [first, next] = LocalBounds(kind, day);
    return PeriodWindow{zone.FromLocal(LocalSeconds{first.time_since_epoch()}),
                        zone.FromLocal(LocalSeconds{next.time_since_epoch()})};
  };
  const PeriodWindow window = window_of(instant);
  // When a fall-back transition crosses midnight, wall-clock days overlap; an instant in
  // the repeated hour belongs to the neighbouring period, so windows never overlap.
  if (instant < window.start) {
    return window_of(window.start - std::chrono::seconds{1});
  }
  if (instant >= window.end) {
    return window_of(window.end);
  }
  return window;
}

}  // namespace agentbudget::core
