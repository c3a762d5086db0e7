#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/money.h"

namespace agentbudget::core {

// The figures reported about runs, each defined once here and read by every reader:
// AgentWorkload status, the authority's metrics and the showback report
// (docs/metrics.md, "One definition of each figure"). Spend itself is the ledger's
// committed micro-dollars, which the FOCUS export's BilledCost sums to exactly; burn rate
// and forecast are core::BurnRate and core::Forecast (core/pressure.h).

// A workload's runs over a period (a calendar month, UTC) as its ledger tells them.
struct RunOutcomes {
  // Everything charged to the workload in the period: every run's calls whether it ended,
  // failed or still runs, its subagents' calls, compute and reported debits. The FOCUS
  // rows tagged with the workload sum to it.
  int64_t spend_micros = 0;
  int64_t finished = 0;     // top-level runs that ended in the period
  int64_t succeeded = 0;    // of which completed successfully
  int64_t merged = 0;       // of which CI reported merged
  int64_t good_tokens = 0;  // tokens of succeeded runs CI did not mark abandoned or reverted
  int64_t all_tokens = 0;   // tokens of every ended run
};

// A part of a whole, kept as integers so that every reader derives the same figure.
struct Share {
  int64_t part = 0;
  int64_t whole = 0;

  // Percent with one decimal, rounded half up ("87.5"); nullopt without a whole (<= 0).
  std::optional<std::string> Percent() const;
  // part / whole, for a Prometheus gauge; nullopt without a whole.
  std::optional<double> Ratio() const;
};

// Spend over `outcomes`, rounded half up to the micro-dollar; nullopt when outcomes <= 0.
std::optional<Money> CostPer(int64_t spend_micros, int64_t outcomes);

// Cost per successful run: the workload's whole spend over its runs that succeeded (not the
// spend of the successful runs alone), so failed runs and subagents are part of what a
// success costs, and the figure reconciles with the FOCUS rows of the workload.
std::optional<Money> CostPerSuccessfulRun(const RunOutcomes& runs);
// Cost per merged PR: the workload's whole spend over its runs CI reported merged.
std::optional<Money> CostPerMergedPr(const RunOutcomes& runs);
// Success rate: succeeded over finished runs.
Share SuccessRate(const RunOutcomes& runs);
// Token yield: tokens of runs with a good outcome over tokens of every ended run.
Share TokenYield(const RunOutcomes& runs);
// Degraded share: reservations answered Degrade (sent to a fallback model) over those let
// through (Allow + Degrade); denials are no calls made.
Share DegradedShare(int64_t allowed, int64_t degraded);

}  // namespace agentbudget::core
