#pragma once

#include <vector>

#include "core/budget_spec.h"
#include "core/time_zone.h"

namespace agentbudget::authority {

// The oldest instant whose spend the ledger must still hold at `now`: folded totals of
// buckets that end at or before it may be dropped (CompactOptions::retain_from). A total is
// needed while a period containing its bucket may still be asked for:
//   - each budget's current period and the BudgetState::kHistory periods before it (its
//     status history, rebuilt from the ledger after a restart);
//   - the FOCUS export window: the current and the previous calendar month in UTC, so a
//     month's export is complete until the following month ends (this also covers the
//     current month's workload spend, Ledger::WorkloadSpends).
// A budget that never resets (period Never) needs every total: then the result is
// SysSeconds::min() and nothing is dropped. Runs are recovered only if active within a day
// (Ledger::Options::run_idle_ttl), so a run's envelope after a restart counts all its spend
// unless the run lasted longer than this window (more than a month). Pure.
core::SysSeconds RetentionStart(const std::vector<core::BudgetSpec>& budgets,
                                core::SysSeconds now);

}  // namespace agentbudget::authority
