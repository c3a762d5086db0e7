#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/budget_spec.h"
#include "operator/authority/budget_state.h"

namespace agentbudget::budgets {

// An Event to emit on the AgentBudget.
struct BudgetEvent {
  std::string type;  // "Normal" or "Warning"
  std::string reason;
  std::string message;
};

struct BudgetStatusUpdate {
  nlohmann::json status;
  std::vector<BudgetEvent> events;
};

// The AgentBudget status for `snapshot`, given the status currently stored. `spent`,
// `reserved`, `burnRatePerHour` and `forecast` are totals over every key; for a perKey
// budget `limit` reads "2.5 USD per user", `utilization` is the fullest key's, and
// `topKeys` (at most BudgetSnapshot::kTopKeys), `keys` and `keysOverAlert` (how many keys
// reached each alert threshold) are written. Conditions
// keep their lastTransitionTime while their status is unchanged:
//   SoftLimitReached  True from the lowest alert threshold on
//   UnderPressure     True at Degrade or Queue pressure
//   Exhausted         True when committed spend reaches the limit
//   Ready             True (the authority is tracking the budget)
// All of them are decided on committed spend (snapshot.utilization, snapshot.pressure),
// which only grows within a period, so none flaps while calls go in and out of flight;
// reservations are reported apart (reserved, reservedUtilization).
// Events are emitted once per threshold crossing, not per update: when utilization reaches
// an alert threshold above the highest one the stored status had reached in the same
// period (SoftLimitReached, Warning), and when the budget becomes exhausted (Exhausted,
// Warning). A new period starts with no threshold reached. Pure.
BudgetStatusUpdate BuildBudgetStatus(const authority::BudgetSnapshot& snapshot, const std::vector<int>& alerts,
                                     const nlohmann::json& previous, core::SysSeconds now);

}  // namespace agentbudget::budgets
