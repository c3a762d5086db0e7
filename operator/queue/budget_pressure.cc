#include "operator/queue/budget_pressure.h"

#include <algorithm>

#include "api/v1alpha1/agent_workload.h"
#include "core/json_field.h"
#include "operator/authority/budget_state.h"

namespace agentbudget::queue {
namespace {

// "82%" → 82; anything else → 0.
int Percent(const nlohmann::json& status) {
  const std::string text = core::StringField(status, "utilization");
  int percent = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      break;
    }
    percent = std::min(percent * 10 + (c - '0'), 1'000'000);
  }
  return percent;
}

// A key's pressure at `percent` of the limit, as the authority decides it on the key's own
// envelope (core::PressureOf, the key's spend standing for its forecast).
core::Pressure PressureAt(int percent, const core::PressurePolicy& policy) {
  return core::PressureOf(100, policy, percent, percent);
}

}  // namespace

core::Pressure ParsePressure(const std::string& name) {
  for (const core::Pressure pressure :
       {core::Pressure::kDegrade, core::Pressure::kQueue, core::Pressure::kExhausted}) {
    if (name == core::PressureName(pressure)) {
      return pressure;
    }
  }
  return core::Pressure::kNone;
}

void BudgetPressure::Known::SettleKeys(const nlohmann::json& status, const Known* previous) {
  const auto settle = [this](core::Pressure before, int percent) {
    return core::SettlePressure(before, PressureAt(percent, spec.pressure), percent,
                                spec.pressure);
  };
  if (!status.contains("topKeys") || !status["topKeys"].is_array()) {
    other_keys = settled;  // no view of the keys: the fullest key's pressure applies to each
    return;
  }
  size_t listed = 0;
  int lowest = 0;
  for (const nlohmann::json& entry : status["topKeys"]) {
    if (listed == authority::BudgetSnapshot::kTopKeys) {
      break;
    }
    if (!entry.is_object()) {
      continue;
    }
    const int percent = Percent(entry);
    lowest = listed++ == 0 ? percent : std::min(lowest, percent);
    const std::string key = core::StringField(entry, "key");
    keys.emplace(key, settle(previous ? previous->OfKey(key) : PressureAt(percent, spec.pressure),
                             percent));
  }
  const nlohmann::json& count = status.contains("keys") ? status["keys"] : nlohmann::json();
  if (count.is_number_integer() && count.get<int64_t>() <= static_cast<int64_t>(listed)) {
    other_keys = core::Pressure::kNone;
  } else if (listed == 0) {
    other_keys = settled;
  } else {
    other_keys =
        settle(previous ? previous->other_keys : PressureAt(lowest, spec.pressure), lowest);
  }
}

core::Pressure BudgetPressure::Known::Applied(const core::Labels& attribution) const {
  return spec.per_key.empty() ? settled : OfKey(spec.KeyOf(attribution));
}

core::Pressure BudgetPressure::Known::OfKey(const std::string& key) const {
  const auto found = keys.find(key);
  return found == keys.end() ? other_keys : found->second;
}

bool BudgetPressure::Known::SameAs(const Known& other) const {
  return spec.generation == other.spec.generation && settled == other.settled &&
         keys == other.keys && other_keys == other.other_keys;
}

std::optional<BudgetPressure::Known> BudgetPressure::Settle(const nlohmann::json& object) const {
  const nlohmann::json& metadata = object.contains("metadata") ? object["metadata"] : object;
  const auto previous = budgets_.find(core::StringField(metadata, "name"));
  const nlohmann::json& generation =
      metadata.contains("generation") ? metadata["generation"] : nlohmann::json();
  // A spec is parsed (time zone included) only when it is new or its generation changed.
  Known known;
  if (previous != budgets_.end() && generation.is_number_integer() &&
      generation.get<int64_t>() == previous->second.spec.generation) {
    known.spec = previous->second.spec;
  } else if (auto spec = core::ParseAgentBudget(object); spec.ok()) {
    known.spec = std::move(*spec);
  } else {
    return std::nullopt;
  }
  const nlohmann::json status =
      object.contains("status") ? object["status"] : nlohmann::json::object();
  const core::Pressure current = ParsePressure(core::StringField(status, "pressure"));
  known.settled = previous == budgets_.end()
                      ? current
                      : core::SettlePressure(previous->second.settled, current, Percent(status),
                                             known.spec.pressure);
  // Shadow mode records what the budget would do and enforces none of it: holding or
  // suspending work would be enforcing it.
  if (known.spec.on_exhausted == core::OnExhausted::kObserve) {
    known.settled = core::Pressure::kNone;
  } else if (!known.spec.per_key.empty()) {
    known.SettleKeys(status, previous == budgets_.end() ? nullptr : &previous->second);
  }
  return known;
}

void BudgetPressure::Update(const std::vector<nlohmann::json>& budgets) {
  MutexLock lock(mu_);
  std::map<std::string, Known> next;
  for (const nlohmann::json& object : budgets) {
    if (std::optional<Known> known = Settle(object)) {
      std::string name = known->spec.name;
      next.emplace(std::move(name), std::move(*known));
    }
  }
  budgets_ = std::move(next);
}

bool BudgetPressure::Upsert(const nlohmann::json& budget) {
  MutexLock lock(mu_);
  std::optional<Known> known = Settle(budget);
  const nlohmann::json& metadata = budget.contains("metadata") ? budget["metadata"] : budget;
  const std::string name = core::StringField(metadata, "name");
  const auto previous = budgets_.find(name);
  if (!known) {
    if (previous == budgets_.end()) {
      return false;
    }
    budgets_.erase(previous);
    return true;
  }
  const bool changed = previous == budgets_.end() || !previous->second.SameAs(*known);
  budgets_[name] = std::move(*known);
  return changed;
}

bool BudgetPressure::Remove(const std::string& name) {
  MutexLock lock(mu_);
  return budgets_.erase(name) > 0;
}

std::vector<core::Pressure> BudgetPressure::For(const std::vector<Spend>& spends) const {
  MutexLock lock(mu_);
  std::vector<core::Pressure> pressures;
  pressures.reserve(spends.size());
  for (const Spend& spend : spends) {
    core::Pressure highest = core::Pressure::kNone;
    for (const auto& budget : budgets_) {
      const Known& known = budget.second;
      if (known.spec.Matches(spend.attribution, spend.namespace_labels)) {
        highest = std::max(highest, known.Applied(spend.attribution));
      }
    }
    pressures.push_back(highest);
  }
  return pressures;
}

core::Pressure BudgetPressure::OfBudget(const std::string& name, const core::Labels& attribution,
                                        const core::Labels& namespace_labels) const {
  MutexLock lock(mu_);
  const auto known = budgets_.find(name);
  if (known == budgets_.end() || !known->second.spec.Matches(attribution, namespace_labels)) {
    return core::Pressure::kNone;
  }
  return known->second.Applied(attribution);
}

std::vector<std::string> BudgetPressure::AtLeast(core::Pressure level) const {
  MutexLock lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, known] : budgets_) {
    if (known.settled >= level) {
      names.push_back(name);
    }
  }
  return names;
}

}  // namespace agentbudget::queue
