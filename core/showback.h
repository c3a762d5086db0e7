#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/budget_spec.h"
#include "core/focus_rows.h"
#include "core/period.h"
#include "core/run_figures.h"

namespace agentbudget::core {

// The showback report's figures (docs/authority.md, "Showback"): spend over a period by
// team, workflow, engineer and model, each budget's spend against its limit and forecast,
// each workload's run figures (core/run_figures.h) and the degraded share. Spend is summed
// from the same FOCUS rows the export writes (their BilledCost), so the report and the
// FOCUS file of the same ledger entries agree to the micro-dollar. A value type.

// Spend of one team, workflow, engineer or model.
struct ShowbackGroup {
  std::string name;  // "-" for spend without the label
  int64_t spend_micros = 0;
  int64_t tokens = 0;
  int64_t runs = 0;  // distinct runs; an "other" group sums those of the groups it holds
};

// One budget in its current period, amounts in its unit (micro-units or tokens).
struct ShowbackBudget {
  std::string name;
  BudgetLimit limit;    // per key for a perKey budget
  std::string per_key;  // the attribution key of a perKey budget, else ""
  PeriodWindow window;
  int64_t spent = 0;     // the total over every key
  int64_t forecast = 0;  // core::Forecast of the total
  int64_t burn_per_hour = 0;
  int utilization = 0;  // of the fullest key for a perKey budget
  std::string pressure;
  // The spend of the period as it accrued: cumulative amounts at the end of equal steps
  // from window.start up to the report's time (at most kSteps).
  std::vector<int64_t> cumulative;
  // perKey budgets: the largest keys (at most kTopKeys) and how many keys reached each
  // alert threshold.
  struct Key {
    std::string key;
    int64_t spent = 0;
    int utilization = 0;
  };
  std::vector<Key> top_keys;
  int64_t keys = 0;
  std::vector<std::pair<int, int64_t>> keys_over_alert;  // (threshold %, keys)

  static constexpr size_t kSteps = 48;
  static constexpr size_t kTopKeys = 20;
};

struct Showback {
  PeriodWindow period;  // [from, to) of the spend summed
  SysSeconds now;       // when the figures were read
  int64_t total_micros = 0;
  int64_t tokens = 0;
  int64_t runs = 0;
  // Largest first; at most kGroups each, the rest summed as one "other" group, so the
  // groups always sum to the total.
  std::vector<ShowbackGroup> by_team, by_workflow, by_engineer, by_model;
  std::vector<int64_t> daily_micros;  // spend per UTC day of the period, oldest first
  std::vector<ShowbackBudget> budgets;
  std::map<std::string, RunOutcomes> workloads;  // "namespace/name" → its runs this month
  std::optional<Share> degraded;                 // DegradedShare, when the caller may see it

  static constexpr size_t kGroups = 20;
  static constexpr size_t kDays = 62;
};

// Sums `rows` (core::FocusRows) inside `period` into the total, the groups and the daily
// series of a report covering `period`, read at `now`. Days past kDays from the period's
// start are not charted (their spend stays in the totals). Pure.
Showback ShowbackOf(const std::vector<FocusRow>& rows, const PeriodWindow& period, SysSeconds now);

// The cumulative series of ShowbackBudget: `amounts` (when, how much) of `window` in
// kSteps equal steps from window.start to `now` (the window's end when sooner). Pure.
std::vector<int64_t> CumulativeSteps(const std::vector<std::pair<SysSeconds, int64_t>>& amounts,
                                     const PeriodWindow& window, SysSeconds now);

// The report as JSON (GET /v1/showback?format=json): money as decimal strings, shares in
// percent with one decimal. Pure.
nlohmann::json ShowbackJson(const Showback& report);

}  // namespace agentbudget::core
