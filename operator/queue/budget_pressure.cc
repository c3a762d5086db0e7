#include "operator/queue/budget_pressure.h"

#include <algorithm>

#include "api/v1alpha1/agent_workload.h"
#include "core/json_field.h"

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
  const bool changed = previous == budgets_.end() ||
                       previous->second.settled != known->settled ||
                       previous->second.spec.generation != known->spec.generation;
  budgets_[name] = std::move(*known);
  return changed;
}

bool BudgetPressure::Remove(const std::string& name) {
  MutexLock lock(mu_);
  return budgets_.erase(name) > 0;
}

core::Pressure BudgetPressure::For(const core::Labels& attribution,
                                   const core::Labels& namespace_labels,
                                   std::string* budget) const {
  MutexLock lock(mu_);
  core::Pressure highest = core::Pressure::kNone;
  budget->clear();
  for (const auto& [name, known] : budgets_) {
    if (known.settled > highest && known.spec.Matches(attribution, namespace_labels)) {
      highest = known.settled;
      *budget = name;
    }
  }
  return highest;
}

core::Pressure BudgetPressure::OfBudget(const std::string& name, const core::Labels& attribution,
                                        const core::Labels& namespace_labels) const {
  MutexLock lock(mu_);
  const auto known = budgets_.find(name);
  if (known == budgets_.end() || !known->second.spec.Matches(attribution, namespace_labels)) {
    return core::Pressure::kNone;
  }
  return known->second.settled;
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
