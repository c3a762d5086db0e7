#include "operator/queue/workload_status.h"

#include "core/json_field.h"
#include "core/money.h"
#include "core/rate_card.h"
#include "core/time_format.h"

namespace agentbudget::queue {
namespace {

// A share in percent for status; null without a whole.
nlohmann::json Percent(const core::Share& share) {
  const std::optional<std::string> percent = share.Percent();
  return percent ? nlohmann::json(*percent) : nlohmann::json(nullptr);
}

// A unit cost for status; null without outcomes.
nlohmann::json Cost(const std::optional<core::Money>& cost) {
  return cost ? nlohmann::json(cost->ToString()) : nlohmann::json(nullptr);
}

// A unit cost in USD for a gauge.
std::optional<double> Usd(const std::optional<core::Money>& cost) {
  if (!cost) {
    return std::nullopt;
  }
  return static_cast<double>(cost->micros()) / static_cast<double>(core::Money::kMicrosPerUnit);
}

std::string Undated(const std::string& model) {
  return core::StripModelDate(model).value_or(model);
}

// The stored condition of `type` in `conditions`; null when absent.
const nlohmann::json& Find(const nlohmann::json& conditions, const std::string& type) {
  static const nlohmann::json kNone;
  if (conditions.is_array()) {
    for (const nlohmann::json& condition : conditions) {
      if (core::StringField(condition, "type") == type) {
        return condition;
      }
    }
  }
  return kNone;
}

nlohmann::json Condition(const nlohmann::json& previous, const std::string& type, bool status,
                         const std::string& reason, const std::string& message,
                         int64_t generation, core::SysSeconds now) {
  const std::string value = status ? "True" : "False";
  const nlohmann::json& old = Find(previous, type);
  std::string transition = core::StringField(old, "lastTransitionTime");
  if (core::StringField(old, "status") != value || transition.empty()) {
    transition = core::FormatRfc3339(now);
  }
  return {{"type", type},       {"status", value},
          {"reason", reason},   {"message", message},
          {"lastTransitionTime", transition}, {"observedGeneration", generation}};
}

}  // namespace

std::optional<double> WorkloadTally::SuccessRatio() const {
  return core::SuccessRate(runs).Ratio();
}

std::optional<double> WorkloadTally::CostPerSuccessfulRun() const {
  return Usd(core::CostPerSuccessfulRun(runs));
}

std::optional<double> WorkloadTally::CostPerMergedPr() const {
  return Usd(core::CostPerMergedPr(runs));
}

std::optional<double> WorkloadTally::LowCostTierRatio() const {
  return core::Share{fallback_calls, calls}.Ratio();
}

std::optional<double> WorkloadTally::TokenYieldRatio() const {
  return core::TokenYield(runs).Ratio();
}

int64_t FallbackCalls(const std::map<std::string, int64_t>& calls_by_model,
                      const std::vector<std::string>& fallback) {
  int64_t total = 0;
  for (const auto& [model, calls] : calls_by_model) {
    for (const std::string& name : fallback) {
      if (model == name || Undated(model) == Undated(name)) {
        total = core::SaturatingAdd(total, calls);
        break;
      }
    }
  }
  return total;
}

void TallyMonth(const authority::WorkloadSpend& spend, const std::vector<std::string>& fallback,
                WorkloadTally& tally) {
  tally.runs = spend.Outcomes();
  tally.calls = spend.calls();
  tally.fallback_calls = FallbackCalls(spend.calls_by_model, fallback);
}

nlohmann::json WorkloadStatusPatch(const WorkloadTally& tally, int64_t generation) {
  return {{"observedGeneration", generation},
          {"activeRuns", tally.active},
          {"queuedRuns", tally.queued},
          {"admittedRuns", tally.admitted},
          {"spend", core::Money::FromMicros(tally.runs.spend_micros).ToString()},
          {"successRate", Percent(core::SuccessRate(tally.runs))},
          {"costPerSuccessfulRun", Cost(core::CostPerSuccessfulRun(tally.runs))},
          {"costPerMergedPr", Cost(core::CostPerMergedPr(tally.runs))},
          {"lowCostTierShare", Percent(core::Share{tally.fallback_calls, tally.calls})},
          {"tokenYield", Percent(core::TokenYield(tally.runs))}};
}

bool StatusHolds(const nlohmann::json& status, const nlohmann::json& patch) {
  for (const auto& [key, value] : patch.items()) {
    const bool present = status.is_object() && status.contains(key);
    if (value.is_null() ? present : !present || status[key] != value) {
      return false;
    }
  }
  return true;
}

nlohmann::json WorkloadConditions(const GovernanceFacts& facts, const nlohmann::json& previous,
                                  core::SysSeconds now) {
  nlohmann::json conditions = nlohmann::json::array();
  if (facts.unmetered > 0) {
    conditions.push_back(Condition(
        previous, "Unmetered", true, "PodsWithoutMeter",
        std::to_string(facts.unmetered) +
            (facts.unmetered == 1 ? " running pod governed by this workload has"
                                  : " running pods governed by this workload have") +
            " no agentbudget-meter container, e.g. " + facts.example_pod +
            ": their LLM calls are neither metered nor held to budgets; delete them to have "
            "them recreated through the webhook",
        facts.generation, now));
  } else {
    conditions.push_back(Condition(
        previous, "Unmetered", false, "AllMetered",
        "every running pod governed by this workload has the agentbudget-meter container",
        facts.generation, now));
  }
  if (facts.approval_required) {
    if (facts.approvers_listed) {
      conditions.push_back(Condition(
          previous, "NoApprovers", false, "ApproversListed",
          "approval.approvers names who may approve this workload's runs", facts.generation, now));
    } else {
      conditions.push_back(Condition(
          previous, "NoApprovers", true, "NoApproversListed",
          "approval.required is set but approval.approvers names no user or group: nobody can "
          "approve this workload's runs, which wait until an approver is listed",
          facts.generation, now));
    }
  }
  if (facts.runs_judged) {
    const bool anomalous = !facts.cost_anomaly.empty();
    conditions.push_back(Condition(
        previous, "RunCostAnomaly", anomalous, anomalous ? "CostAboveMedian" : "UsualCost",
        anomalous ? facts.cost_anomaly
                  : "the latest finished run cost within the multiple of this workflow's median",
        facts.generation, now));
  }
  return conditions;
}

bool ConditionsHold(const nlohmann::json& current, const nlohmann::json& desired) {
  if (!current.is_array() || !desired.is_array() || current.size() != desired.size()) {
    return false;
  }
  for (const nlohmann::json& condition : desired) {
    const nlohmann::json& stored = Find(current, core::StringField(condition, "type"));
    if (!stored.is_object()) {
      return false;
    }
    for (const char* field : {"status", "reason", "message", "observedGeneration"}) {
      if (!stored.contains(field) || stored[field] != condition[field]) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace agentbudget::queue
