#include "operator/budgets/budget_status.h"

#include <algorithm>

#include "core/time_format.h"

namespace agentbudget::budgets {
namespace {

// The highest alert threshold `percent` reaches, or 0.
int HighestReached(const std::vector<int>& alerts, int percent) {
  int highest = 0;
  for (int alert : alerts) {
    if (percent >= alert) {
      highest = std::max(highest, alert);
    }
  }
  return highest;
}

// "82%" → 82; anything else → 0.
int ParsePercent(const nlohmann::json& value) {
  if (!value.is_string()) {
    return 0;
  }
  const std::string text = value.get<std::string>();
  int percent = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      break;
    }
    percent = std::min(percent * 10 + (c - '0'), 1'000'000);
  }
  return percent;
}

nlohmann::json Condition(const nlohmann::json& previous_conditions, const std::string& type,
                         bool status, const std::string& reason, const std::string& message,
                         int64_t generation, core::SysSeconds now) {
  const std::string value = status ? "True" : "False";
  std::string transition = core::FormatRfc3339(now);
  if (previous_conditions.is_array()) {
    for (const auto& old : previous_conditions) {
      if (old.is_object() && old.value("type", "") == type && old.value("status", "") == value &&
          old.contains("lastTransitionTime") && old["lastTransitionTime"].is_string()) {
        transition = old["lastTransitionTime"].get<std::string>();
      }
    }
  }
  return {{"type", type},         {"status", value},           {"reason", reason},
          {"message", message},   {"lastTransitionTime", transition},
          {"observedGeneration", generation}};
}

}  // namespace

BudgetStatusUpdate BuildBudgetStatus(const authority::BudgetSnapshot& snapshot, const std::vector<int>& alerts,
                                     const nlohmann::json& previous, core::SysSeconds now) {
  const core::BudgetLimit& limit = snapshot.limit;
  const bool never = snapshot.window.end == core::SysSeconds::max();
  const bool per_key = !snapshot.per_key.empty();
  const std::string shown_limit = limit.Display() + (per_key ? " per " + snapshot.per_key : "");
  nlohmann::json status = {
      {"observedGeneration", snapshot.generation},
      {"periodStart", core::FormatRfc3339(snapshot.window.start)},
      {"limit", shown_limit},
      {"spent", limit.Format(snapshot.spent)},
      {"reserved", limit.Format(snapshot.reserved)},
      {"remaining", limit.Format(snapshot.remaining)},
      {"utilization", std::to_string(snapshot.utilization) + "%"},
      {"reservedUtilization", std::to_string(snapshot.reserved_utilization) + "%"},
      {"burnRatePerHour", limit.Format(snapshot.burn_per_hour)},
      {"forecast", limit.Format(snapshot.forecast)},
      {"pressure", core::PressureName(snapshot.pressure)},
  };
  if (!never) {
    status["periodEnd"] = core::FormatRfc3339(snapshot.window.end);
  }
  nlohmann::json top = nlohmann::json::array();
  for (const auto& key : snapshot.top_keys) {
    top.push_back({{"key", key.key},
                   {"spent", limit.Format(key.spent)},
                   {"utilization", std::to_string(key.utilization) + "%"}});
  }
  if (per_key) {
    status["topKeys"] = std::move(top);
    status["keys"] = snapshot.keys;
    nlohmann::json over = nlohmann::json::array();
    for (const auto& [threshold, keys] : snapshot.keys_over_alert) {
      over.push_back({{"threshold", std::to_string(threshold) + "%"}, {"keys", keys}});
    }
    status["keysOverAlert"] = std::move(over);
  }
  nlohmann::json history = nlohmann::json::array();
  for (const auto& period : snapshot.history) {
    history.push_back({{"periodStart", core::FormatRfc3339(period.start)},
                       {"periodEnd", core::FormatRfc3339(period.end)},
                       {"spent", limit.Format(period.spent)}});
  }
  if (!history.empty()) {
    status["history"] = std::move(history);
  }

  const nlohmann::json old = previous.is_object() ? previous : nlohmann::json::object();
  const bool same_period = old.value("periodStart", std::string()) == status.value("periodStart", std::string());
  const int before = same_period ? HighestReached(alerts, ParsePercent(old.value("utilization", nlohmann::json()))) : 0;
  const int reached = HighestReached(alerts, snapshot.utilization);
  const bool exhausted = snapshot.pressure == core::Pressure::kExhausted;
  const bool was_exhausted = same_period && old.value("pressure", "") == "Exhausted";
  const std::string usage = std::to_string(snapshot.utilization) + "% of " + shown_limit +
                            (per_key ? " (the fullest " + snapshot.per_key + ")" : "");
  const std::string in_flight =
      " (" + std::to_string(snapshot.reserved_utilization) + "% more reserved in flight)";

  BudgetStatusUpdate update;
  if (reached > before) {
    update.events.push_back({"Warning", "SoftLimitReached",
                             "budget " + snapshot.name + " crossed " + std::to_string(reached) +
                                 "%: " + usage + " spent" + in_flight});
  }
  if (exhausted && !was_exhausted) {
    update.events.push_back(
        {"Warning", "Exhausted", "budget " + snapshot.name + " is exhausted: " + usage + " spent"});
  }
  const nlohmann::json& old_conditions =
      old.contains("conditions") ? old["conditions"] : nlohmann::json();
  const int64_t generation = snapshot.generation;
  const bool soft = !alerts.empty() && reached > 0;
  const bool pressed = snapshot.pressure == core::Pressure::kDegrade ||
                       snapshot.pressure == core::Pressure::kQueue;
  status["conditions"] = nlohmann::json::array({
      Condition(old_conditions, "Ready", true, "Tracking", "the authority tracks this budget",
                generation, now),
      Condition(old_conditions, "SoftLimitReached", soft,
                soft ? "AlertThresholdReached" : "BelowAlertThresholds",
                soft ? usage + " (threshold " + std::to_string(reached) + "%)" : usage,
                generation, now),
      Condition(old_conditions, "UnderPressure", pressed,
                pressed ? std::string(core::PressureName(snapshot.pressure)) : "NoPressure",
                "pressure " + std::string(core::PressureName(snapshot.pressure)) + " at " + usage,
                generation, now),
      Condition(old_conditions, "Exhausted", exhausted, exhausted ? "LimitReached" : "WithinLimit",
                usage, generation, now),
  });
  update.status = std::move(status);
  return update;
}

}  // namespace agentbudget::budgets
