#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "core/admission_plan.h"
#include "core/budget_spec.h"
#include "core/pressure.h"

namespace agentbudget::queue {

// The pressure each AgentBudget applies to held and running work, read from the budget
// controller's status (status.pressure, status.utilization) and settled with hysteresis
// (core::SettlePressure), so work does not flap around a threshold. A budget in shadow
// mode (onExhausted: Observe) applies none, whatever its status says. Thread-safe: the
// pressure controller settles it, admission reads it.
class BudgetPressure {
 public:
  // Replaces the known budgets with `budgets` (AgentBudget objects). Each budget's pressure
  // rises at once with its status and falls only past the hysteresis margin. Budgets whose
  // spec does not parse are skipped (the budget controller reports them).
  void Update(const std::vector<nlohmann::json>& budgets) EXCLUDES(mu_);
  // Settles one budget as Update() does. Returns whether what it applies changed: its
  // settled pressure or its spec (generation), or it became known or unknown.
  bool Upsert(const nlohmann::json& budget) EXCLUDES(mu_);
  // Forgets budget `name`; returns whether it was known.
  bool Remove(const std::string& name) EXCLUDES(mu_);

  // The highest settled pressure of the budgets that charge spend with `attribution` from
  // a namespace labelled `namespace_labels`; kNone when none matches. `budget` gets the
  // name of that budget (for messages), "" when none.
  core::Pressure For(const core::Labels& attribution, const core::Labels& namespace_labels,
                     std::string* budget) const EXCLUDES(mu_);
  // Budget `name`'s settled pressure if it charges such spend, else kNone.
  core::Pressure OfBudget(const std::string& name, const core::Labels& attribution,
                          const core::Labels& namespace_labels) const EXCLUDES(mu_);
  // The budgets whose settled pressure is at least `level`.
  std::vector<std::string> AtLeast(core::Pressure level) const EXCLUDES(mu_);

 private:
  struct Known {
    core::BudgetSpec spec;
    core::Pressure settled = core::Pressure::kNone;
  };
  // `object` settled against what was known of it; nullopt when its spec does not parse.
  std::optional<Known> Settle(const nlohmann::json& object) const REQUIRES(mu_);

  mutable Mutex mu_;
  std::map<std::string, Known> budgets_ GUARDED_BY(mu_);
};

// status.pressure as written by the budget controller; kNone for anything else.
core::Pressure ParsePressure(const std::string& name);

}  // namespace agentbudget::queue
