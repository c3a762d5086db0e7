#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

namespace agentbudget::queue {

// What the queue counted for one AgentWorkload in one pass.
struct WorkloadTally {
  int64_t active = 0;     // admitted and not finished
  int64_t queued = 0;     // held
  int64_t admitted = 0;   // admitted since the workload was created (monotonic)
  int64_t finished = 0;   // top-level runs finished, among those still in the cluster
  int64_t succeeded = 0;  // of which completed successfully
  int64_t succeeded_spend_micros = 0;  // their spend, from the authority's ledger
  int64_t good_tokens = 0;  // tokens of runs with a good outcome (succeeded, not abandoned/reverted)
  int64_t all_tokens = 0;   // tokens of all finished runs
};

// The status fields the queue owns (activeRuns, queuedRuns, admittedRuns, successRate,
// costPerSuccessfulRun, tokenYield, observedGeneration), merged over `old_status` so that
// fields written by others are kept. Ratios are percent with one decimal ("87.5"); a ratio
// without any finished run is left out. Pure.
nlohmann::json WorkloadStatus(const nlohmann::json& old_status, const WorkloadTally& tally,
                              int64_t generation);

}  // namespace agentbudget::queue
