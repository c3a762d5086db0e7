#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/run_figures.h"
#include "core/time_zone.h"
#include "operator/authority/workload_spend.h"

namespace agentbudget::queue {

// What the queue counted for one AgentWorkload in one pass: runs from the cluster, the
// month's spend and outcomes from the ledger (TallyMonth).
struct WorkloadTally {
  int64_t active = 0;     // admitted and not finished
  int64_t queued = 0;     // held
  int64_t admitted = 0;   // admitted since the workload was created (monotonic)
  // The month's spend (calendar month, UTC) and its ended runs.
  core::RunOutcomes runs;
  int64_t calls = 0;           // its LLM calls this month
  int64_t fallback_calls = 0;  // of which served by one of its fallback models

  // The figures of status as metrics read them (core/run_figures.h): ratios as fractions,
  // unit costs in USD; nullopt without a denominator.
  std::optional<double> SuccessRatio() const;
  std::optional<double> CostPerSuccessfulRun() const;
  std::optional<double> CostPerMergedPr() const;
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
// admittedRuns, spend, successRate, costPerSuccessfulRun, costPerMergedPr,
// lowCostTierShare, tokenYield) as a merge patch of `status`: fields written by others
// (rejectedRuns, by the webhook) are not in it. Figures as core/run_figures.h defines them;
// ratios are percent with one decimal ("87.5"); a figure without a denominator is null,
// which removes a stale value. Pure.
nlohmann::json WorkloadStatusPatch(const WorkloadTally& tally, int64_t generation);

// Whether `status` already holds everything `patch` would write (a null field: absent).
bool StatusHolds(const nlohmann::json& status, const nlohmann::json& patch);

// What a workload cannot enforce, as the queue's backstop found it, for its conditions.
struct GovernanceFacts {
  int64_t unmetered = 0;     // running pods it governs without the agentbudget-meter container
  std::string example_pod;   // one of them ("namespace/name"): the first by key, so it is stable
  bool approval_required = false;  // spec.approval.required
  bool approvers_listed = false;   // spec.approval.approvers names a user or group
  int64_t generation = 0;          // metadata.generation
  // The latest judged finished run's cost (RunCostAnomalies): whether one was judged yet,
  // and what was anomalous about it ("" when it cost as usual).
  bool runs_judged = false;
  std::string cost_anomaly;
};

// status.conditions as the queue writes them (their only writer, so the list is whole):
//   Unmetered    True while running pods the workload governs lack the meter (the message
//                gives how many and one of them), else False
//   NoApprovers  only with approval.required: True when approval.approvers names nobody, so
//                its runs cannot be approved and wait, else False
//   RunCostAnomaly  once a finished run was judged: True when the latest judged run cost
//                more than the multiple of its workflow's median (the message names it),
//                else False
// A condition keeps its lastTransitionTime from `previous` (the stored status.conditions)
// while its status is unchanged, and takes `now` when it changes. Pure.
nlohmann::json WorkloadConditions(const GovernanceFacts& facts, const nlohmann::json& previous,
                                  core::SysSeconds now);

// Whether `current` (a status.conditions) says what `desired` does: the same conditions,
// each with the same status, reason, message and observedGeneration (transition times
// aside, so a write is never repeated for the clock alone).
bool ConditionsHold(const nlohmann::json& current, const nlohmann::json& desired);

}  // namespace agentbudget::queue
