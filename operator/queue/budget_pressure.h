#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/admission_plan.h"
#include "core/budget_spec.h"
#include "core/pressure.h"

namespace agentbudget::queue {

// The pressure each AgentBudget applies to held and running work, read from the budget
// controller's status (status.pressure, status.utilization) and settled with hysteresis
// (core::SettlePressure), so work does not flap around a threshold. Not thread-safe: the
// queue's single reconcile worker owns it.
class BudgetPressure {
 public:
  // Replaces the known budgets with `budgets` (AgentBudget objects). Each budget's pressure
  // rises at once with its status and falls only past the hysteresis margin. Budgets whose
  // spec does not parse are skipped (the budget controller reports them).
  void Update(const std::vector<nlohmann::json>& budgets);

  // The highest settled pressure of the budgets that charge spend with `attribution` from
  // a namespace labelled `namespace_labels`; kNone when none matches. `budget` gets the
  // name of that budget (for messages), "" when none.
  core::Pressure For(const core::Labels& attribution, const core::Labels& namespace_labels,
                     std::string* budget) const;

 private:
  struct Known {
    core::BudgetSpec spec;
    core::Pressure settled = core::Pressure::kNone;
  };
  std::map<std::string, Known> budgets_;
};

// status.pressure as written by the budget controller; kNone for anything else.
core::Pressure ParsePressure(const std::string& name);

}  // namespace agentbudget::queue
