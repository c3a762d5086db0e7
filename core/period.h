#pragma once

#include <chrono>
#include <string_view>

#include "common/result.h"
#include "core/time_zone.h"

namespace agentbudget::core {

// How often a budget resets (AgentBudget spec.period).
enum class PeriodKind { kDay, kWeek, kMonth, kQuarter, kNever };

// Parses "Day", "Week", "Month", "Quarter" or "Never"; anything else is kInvalidArgument.
Result<PeriodKind> ParsePeriodKind(std::string_view text);
std::string_view PeriodKindName(PeriodKind kind);

// A half-open interval [start, end) of UTC instants. For kNever, start is the epoch and
// end is SysSeconds::max().
struct PeriodWindow {
  SysSeconds start;
  SysSeconds end;
  bool Contains(SysSeconds t) const { return t >= start && t < end; }
  friend bool operator==(const PeriodWindow&, const PeriodWindow&) = default;
};

// The period of kind `kind` containing `instant`, with boundaries at local midnight in
// `zone`: Day at each midnight, Week on Monday (ISO 8601), Month on the 1st, Quarter on
// January, April, July and October 1st. A midnight skipped by a daylight-saving change
// starts at the first instant of that local day, so a day can last 23 or 25 hours. Pure.
PeriodWindow PeriodContaining(PeriodKind kind, const TimeZone& zone, SysSeconds instant);

}  // namespace agentbudget::core
