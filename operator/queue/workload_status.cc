#include "operator/queue/workload_status.h"

#include <cstdio>

#include "core/json_field.h"
#include "core/money.h"
#include "core/rate_card.h"
#include "core/time_format.h"

namespace agentbudget::queue {
namespace {

// 128-bit intermediates for products of micro-dollars, sizes and seconds.
__extension__ using Int128 = __int128;

// part/whole in percent, one decimal, rounded half up, in integers; null without a whole.
nlohmann::json Percent(int64_t part, int64_t whole) {
  if (whole <= 0) {
    return nullptr;
  }
  const Int128 tenths = (static_cast<Int128>(part) * 1000 * 2 + whole) / (2 * whole);
  char text[48];
  std::snprintf(text, sizeof(text), "%lld.%lld", static_cast<long long>(tenths / 10),
                static_cast<long long>(tenths % 10));
  return text;
}

std::optional<double> Ratio(int64_t part, int64_t whole) {
  if (whole <= 0) {
    return std::nullopt;
  }
  return static_cast<double>(part) / static_cast<double>(whole);
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

std::optional<double> WorkloadTally::SuccessRatio() const { return Ratio(succeeded, finished); }

std::optional<double> WorkloadTally::CostPerSuccessfulRun() const {
  const auto micros = Ratio(succeeded_spend_micros, succeeded);
  return micros ? std::optional<double>(*micros / 1e6) : std::nullopt;
}

std::optional<double> WorkloadTally::LowCostTierRatio() const {
  return Ratio(fallback_calls, calls);
}

std::optional<double> WorkloadTally::TokenYieldRatio() const {
  return Ratio(good_tokens, all_tokens);
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
  tally.spend_micros = spend.cost_micros;
  tally.calls = spend.calls();
  tally.fallback_calls = FallbackCalls(spend.calls_by_model, fallback);
  tally.finished = spend.ended.finished;
  tally.succeeded = spend.ended.succeeded;
  tally.succeeded_spend_micros = spend.ended.succeeded_cost_micros;
  tally.good_tokens = spend.ended.good_tokens;
  tally.all_tokens = spend.ended.all_tokens;
}

nlohmann::json WorkloadStatusPatch(const WorkloadTally& tally, int64_t generation) {
  nlohmann::json cost_per_success = nullptr;
  if (tally.succeeded > 0) {
    cost_per_success =
        core::Money::FromMicros(tally.succeeded_spend_micros / tally.succeeded).ToString();
  }
  return {{"observedGeneration", generation},
          {"activeRuns", tally.active},
          {"queuedRuns", tally.queued},
          {"admittedRuns", tally.admitted},
          {"spend", core::Money::FromMicros(tally.spend_micros).ToString()},
          {"successRate", Percent(tally.succeeded, tally.finished)},
          {"costPerSuccessfulRun", std::move(cost_per_success)},
          {"lowCostTierShare", Percent(tally.fallback_calls, tally.calls)},
          {"tokenYield", Percent(tally.good_tokens, tally.all_tokens)}};
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
