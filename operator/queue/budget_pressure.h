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
// mode (onExhausted: Observe) applies none, whatever its status says. A perKey budget
// presses each key's work with that key's own pressure, as the authority degrades each
// key's calls on its own envelope: from its status.topKeys entry, or for a key not listed
// there, the pressure of the lowest listed key (an unlisted key spent no more than it);
// none when status.keys says every key is listed. Without topKeys in its status, the
// budget's pressure applies to every key. Thread-safe: the pressure controller settles it,
// admission reads it.
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

  // The spend of one run: its attribution and its namespace's labels.
  struct Spend {
    core::Labels attribution;
    core::Labels namespace_labels;
  };
  // For each of `spends`, the highest settled pressure that the budgets charging it apply to
  // it (a perKey budget: its key's); kNone when none matches. All are read at one instant,
  // so an admission pass plans against one view of the budgets: a budget settled half-way
  // through the reads would otherwise still hold the earlier runs and free the later ones.
  std::vector<core::Pressure> For(const std::vector<Spend>& spends) const EXCLUDES(mu_);
  // The settled pressure budget `name` applies to such spend (a perKey budget: its key's);
  // kNone when it does not charge it.
  core::Pressure OfBudget(const std::string& name, const core::Labels& attribution,
                          const core::Labels& namespace_labels) const EXCLUDES(mu_);
  // The budgets whose settled pressure is at least `level` (a perKey budget's is its
  // fullest key's).
  std::vector<std::string> AtLeast(core::Pressure level) const EXCLUDES(mu_);

 private:
  struct Known {
    core::BudgetSpec spec;
    core::Pressure settled = core::Pressure::kNone;  // perKey: the fullest key's
    // perKey budgets: each listed key's settled pressure (at most kTopKeys), and every
    // other key's.
    std::map<std::string, core::Pressure> keys;
    core::Pressure other_keys = core::Pressure::kNone;

    // Settles `keys` and `other_keys` from `status` against `previous` (nullptr when the
    // budget is new). REQUIRES: spec and settled are set; spec is perKey.
    void SettleKeys(const nlohmann::json& status, const Known* previous);
    // The pressure applied to spend with `attribution`. REQUIRES: the spec matches it.
    core::Pressure Applied(const core::Labels& attribution) const;
    core::Pressure OfKey(const std::string& key) const;
    bool SameAs(const Known& other) const;
  };
  // `object` settled against what was known of it; nullopt when its spec does not parse.
  std::optional<Known> Settle(const nlohmann::json& object) const REQUIRES(mu_);

  mutable Mutex mu_;
  std::map<std::string, Known> budgets_ GUARDED_BY(mu_);
};

// status.pressure as written by the budget controller; kNone for anything else.
core::Pressure ParsePressure(const std::string& name);

}  // namespace agentbudget::queue
