#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "operator/authority/workload_spend.h"

namespace agentbudget::queue {

// What the queue counted for one AgentWorkload in one pass: runs from the cluster, the
// month's spend and outcomes from the ledger (TallyMonth).
struct WorkloadTally {
  int64_t active = 0;     // admitted and not finished
  int64_t queued = 0;     // held
  int64_t admitted = 0;   // admitted since the workload was created (monotonic)
  int64_t finished = 0;   // top-level runs that ended this month
  int64_t succeeded = 0;  // of which completed successfully
  int64_t succeeded_spend_micros = 0;  // their spend this month
  int64_t good_tokens = 0;  // tokens of runs with a good outcome (succeeded, not abandoned/reverted)
  int64_t all_tokens = 0;   // tokens of all ended runs
  int64_t spend_micros = 0;    // the workload's spend this calendar month (UTC)
  int64_t calls = 0;           // its LLM calls this month
  int64_t fallback_calls = 0;  // of which served by one of its fallback models

  // The ratios of status, as fractions; nullopt without a denominator.
  std::optional<double> SuccessRatio() const;
  std::optional<double> CostPerSuccessfulRun() const;  // USD
  std::optional<double> LowCostTierRatio() const;
  std::optional<double> TokenYieldRatio() const;
};

// Calls among `calls_by_model` served by a model of `fallback` (the workload's
// models.fallback): the same name, or the same once a trailing date is removed from either
// ("claude-haiku-4-5-20251001" is "claude-haiku-4-5").
int64_t FallbackCalls(const std::map<std::string, int64_t>& calls_by_model,
                      const std::vector<std::string>& fallback);

// Sets the month's figures of `spend` in `tally`: spend, calls and those served by a model
// of `fallback`, and the top-level runs that ended (with their spend and tokens).
void TallyMonth(const authority::WorkloadSpend& spend, const std::vector<std::string>& fallback,
                WorkloadTally& tally);

// The status fields the queue owns (observedGeneration, activeRuns, queuedRuns,
// admittedRuns, spend, successRate, costPerSuccessfulRun, lowCostTierShare, tokenYield) as
// a merge patch of `status`: fields written by others (rejectedRuns, by the webhook) are
// not in it. Ratios are percent with one decimal ("87.5"); a ratio without a denominator is
// null, which removes a stale value. Pure.
nlohmann::json WorkloadStatusPatch(const WorkloadTally& tally, int64_t generation);

// Whether `status` already holds everything `patch` would write (a null field: absent).
bool StatusHolds(const nlohmann::json& status, const nlohmann::json& patch);

}  // namespace agentbudget::queue
