#include "operator/queue/workload_status.h"

#include <cstdio>

#include "core/money.h"
#include "core/rate_card.h"

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

}  // namespace agentbudget::queue
