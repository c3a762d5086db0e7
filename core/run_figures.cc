#include "core/run_figures.h"

#include <cstdio>

namespace agentbudget::core {

std::optional<std::string> Share::Percent() const {
  if (whole <= 0) {
    return std::nullopt;
  }
  __extension__ using Int128 = __int128;
  const Int128 tenths =
      (static_cast<Int128>(part) * 1000 * 2 + whole) / (2 * static_cast<Int128>(whole));
  char text[48];
  std::snprintf(text, sizeof(text), "%lld.%lld", static_cast<long long>(tenths / 10),
                static_cast<long long>(tenths % 10));
  return text;
}

std::optional<double> Share::Ratio() const {
  if (whole <= 0) {
    return std::nullopt;
  }
  return static_cast<double>(part) / static_cast<double>(whole);
}

std::optional<Money> CostPer(int64_t spend_micros, int64_t outcomes) {
  if (outcomes <= 0) {
    return std::nullopt;
  }
  // Half up, without overflow: quotient plus one when the remainder is at least half.
  const int64_t quotient = spend_micros / outcomes;
  const int64_t remainder = spend_micros % outcomes;
  const bool up = remainder >= 0 ? remainder >= outcomes - remainder : false;
  return Money::FromMicros(quotient + (up ? 1 : 0));
}

std::optional<Money> CostPerSuccessfulRun(const RunOutcomes& runs) {
  return CostPer(runs.spend_micros, runs.succeeded);
}

std::optional<Money> CostPerMergedPr(const RunOutcomes& runs) {
  return CostPer(runs.spend_micros, runs.merged);
}

Share SuccessRate(const RunOutcomes& runs) { return {runs.succeeded, runs.finished}; }

Share TokenYield(const RunOutcomes& runs) { return {runs.good_tokens, runs.all_tokens}; }

Share DegradedShare(int64_t allowed, int64_t degraded) {
  return {degraded, SaturatingAdd(allowed, degraded)};
}

}  // namespace agentbudget::core
