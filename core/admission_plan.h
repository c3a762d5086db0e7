#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/budget_decision.h"
#include "core/pressure.h"

namespace agentbudget::core {

// Why a governed Job or Pod is still held (the `agentbudget.io/queue` annotation).
enum class HoldReason { kWaitingForParallelism, kBudgetPressure, kAwaitingApproval, kBudgetExhausted };
std::string_view HoldReasonName(HoldReason reason);

// The caps that apply to one workload's runs (AgentWorkload spec).
struct WorkloadCaps {
  std::optional<int64_t> max_parallel_runs;       // top-level runs admitted at once
  std::optional<int64_t> max_subagents;           // per run, in total (onLimit: Queue)
  std::optional<int64_t> max_parallel_subagents;  // per run, at once
  bool approval_required = false;
};

// One held Job or bare Pod waiting for admission.
struct HeldRun {
  std::string key;         // "namespace/name", unique
  std::string workload;    // "namespace/workload" of this object
  std::string parent_run;  // the parent run's id for a subagent; empty for a top-level run
  // For a subagent, the workload of its parent run, whose perRun fan-out caps apply.
  std::string parent_workload;
  WorkPriority priority = WorkPriority::kStandard;
  int64_t created_millis = 0;  // creation time; FIFO order within a priority
  bool approved = false;       // agentbudget.io/approved-by and approved-at are set
  Pressure pressure = Pressure::kNone;  // the highest pressure of the budgets that match it
};

// What is running now: admitted and not finished.
struct ActiveWork {
  std::map<std::string, int64_t> runs_by_workload;       // top-level runs per workload
  std::map<std::string, int64_t> subagents_by_run;       // running subagents per parent run
  std::map<std::string, int64_t> subagents_ever_by_run;  // subagents ever admitted per run
};

struct Hold {
  std::string key;
  HoldReason reason;
  int64_t position = 0;  // 1-based place among the held work of the same workload
  std::string message;   // names the cap, budget pressure or approval it waits for
};

struct AdmissionPlan {
  std::vector<std::string> admit;  // keys to admit now, in admission order
  std::vector<Hold> hold;          // everything else, in queue order
};

// Plans one admission pass. Order: priority (ReleaseBlocking, Standard, Deferrable), then
// creation time, then key. A run is admitted when it is approved (if its workload requires
// approval), no matching budget's pressure holds it (Deferrable from Queue, every priority
// at Exhausted), and its workload is below maxParallelRuns — or, for a subagent, its parent
// run is below maxParallelSubagents and maxSubagents. Each admission counts against the
// caps of the runs after it in the same pass. Runs of a workload missing from `caps` are
// planned as uncapped. Pure.
AdmissionPlan PlanAdmission(std::vector<HeldRun> held,
                            const std::map<std::string, WorkloadCaps>& caps,
                            ActiveWork active);

// Whether running work of `priority` must be suspended (and re-queued) under `pressure`:
// Deferrable work from Queue up. Standard and ReleaseBlocking runs are never suspended for
// pressure: the authority's ceilings stop their spend instead.
bool SuspendForPressure(WorkPriority priority, Pressure pressure);

// Pressure with hysteresis, so that held work does not flap around a threshold: pressure
// rises as soon as `current` says so, and falls from `previous` only once utilization is
// `margin` percentage points below the threshold that raised it (degradeAt, queueAt, or 100
// for Exhausted). Pure.
Pressure SettlePressure(Pressure previous, Pressure current, int utilization_percent,
                        const PressurePolicy& policy, int margin = 2);

}  // namespace agentbudget::core
