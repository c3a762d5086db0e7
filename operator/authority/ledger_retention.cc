#include "operator/authority/ledger_retention.h"

#include <algorithm>

#include "core/period.h"
#include "operator/authority/budget_state.h"

namespace agentbudget::authority {
namespace {

// The start of the period `back` periods before the one containing `now`.
core::SysSeconds PeriodsBack(core::PeriodKind kind, const core::TimeZone& zone,
                             core::SysSeconds now, size_t back) {
  core::PeriodWindow window = core::PeriodContaining(kind, zone, now);
  for (size_t i = 0; i < back; ++i) {
    window = core::PeriodContaining(kind, zone, window.start - std::chrono::seconds{1});
  }
  return window.start;
}

}  // namespace

core::SysSeconds RetentionStart(const std::vector<core::BudgetSpec>& budgets,
                                core::SysSeconds now) {
  core::SysSeconds start = PeriodsBack(core::PeriodKind::kMonth, core::TimeZone::Utc(), now, 1);
  for (const core::BudgetSpec& budget : budgets) {
    if (budget.period == core::PeriodKind::kNever) {
      return core::SysSeconds::min();
    }
    start = std::min(start, PeriodsBack(budget.period, budget.zone, now, BudgetState::kHistory));
  }
  return start;
}

}  // namespace agentbudget::authority
