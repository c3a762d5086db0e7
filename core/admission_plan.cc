#include "core/admission_plan.h"

#include <algorithm>
#include <tuple>

namespace agentbudget::core {
namespace {

bool Below(const std::optional<int64_t>& cap, int64_t count) { return !cap || count < *cap; }

const WorkloadCaps& CapsOf(const std::map<std::string, WorkloadCaps>& caps,
                           const std::string& workload) {
  static const WorkloadCaps kUncapped;
  const auto found = caps.find(workload);
  return found == caps.end() ? kUncapped : found->second;
}

// The reason pressure holds work of this priority, if it does.
std::optional<HoldReason> PressureHold(WorkPriority priority, Pressure pressure) {
  if (pressure == Pressure::kExhausted) {
    return HoldReason::kBudgetExhausted;
  }
  if (priority == WorkPriority::kDeferrable && pressure == Pressure::kQueue) {
    return HoldReason::kBudgetPressure;
  }
  return std::nullopt;
}

}  // namespace

std::string_view HoldReasonName(HoldReason reason) {
  switch (reason) {
    case HoldReason::kWaitingForParallelism:
      return "WaitingForParallelism";
    case HoldReason::kBudgetPressure:
      return "BudgetPressure";
    case HoldReason::kAwaitingApproval:
      return "AwaitingApproval";
    case HoldReason::kBudgetExhausted:
      return "BudgetExhausted";
  }
  return "WaitingForParallelism";
}

AdmissionPlan PlanAdmission(std::vector<HeldRun> held,
                            const std::map<std::string, WorkloadCaps>& caps,
                            ActiveWork active) {
  std::sort(held.begin(), held.end(), [](const HeldRun& a, const HeldRun& b) {
    return std::tie(a.priority, a.created_millis, a.key) <
           std::tie(b.priority, b.created_millis, b.key);
  });
  AdmissionPlan plan;
  std::map<std::string, int64_t> positions;  // held so far per workload
  for (const HeldRun& run : held) {
    const WorkloadCaps& own = CapsOf(caps, run.workload);
    std::optional<HoldReason> reason;
    std::string message;
    if (own.approval_required && !run.approved) {
      reason = HoldReason::kAwaitingApproval;
      message = "workload " + run.workload +
                " requires an approval: one of its approvers annotates agentbudget.io/approved-by"
                " (the webhook records agentbudget.io/approved-at)";
    } else if (auto pressure_hold = PressureHold(run.priority, run.pressure)) {
      reason = pressure_hold;
      message = "a matching budget is at pressure " + std::string(PressureName(run.pressure));
    } else if (run.parent_run.empty()) {
      const int64_t running = active.runs_by_workload[run.workload];
      if (!Below(own.max_parallel_runs, running)) {
        reason = HoldReason::kWaitingForParallelism;
        message = "workload " + run.workload + " has " + std::to_string(running) +
                  " of maxParallelRuns " + std::to_string(*own.max_parallel_runs) + " running";
      }
    } else {
      const WorkloadCaps& parent = CapsOf(caps, run.parent_workload);
      const int64_t running = active.subagents_by_run[run.parent_run];
      const int64_t ever = active.subagents_ever_by_run[run.parent_run];
      if (!Below(parent.max_subagents, ever)) {
        reason = HoldReason::kWaitingForParallelism;
        message = "run " + run.parent_run + " has created " + std::to_string(ever) +
                  " of maxSubagents " + std::to_string(*parent.max_subagents);
      } else if (!Below(parent.max_parallel_subagents, running)) {
        reason = HoldReason::kWaitingForParallelism;
        message = "run " + run.parent_run + " has " + std::to_string(running) +
                  " of maxParallelSubagents " + std::to_string(*parent.max_parallel_subagents) +
                  " running";
      }
    }
    if (reason) {
      plan.hold.push_back({run.key, *reason, ++positions[run.workload], std::move(message)});
      continue;
    }
    plan.admit.push_back(run.key);
    if (run.parent_run.empty()) {
      ++active.runs_by_workload[run.workload];
    } else {
      ++active.subagents_by_run[run.parent_run];
      ++active.subagents_ever_by_run[run.parent_run];
    }
  }
  return plan;
}

bool SuspendForPressure(WorkPriority priority, Pressure pressure) {
  return priority == WorkPriority::kDeferrable && pressure >= Pressure::kQueue;
}

Pressure SettlePressure(Pressure previous, Pressure current, int utilization_percent,
                        const PressurePolicy& policy, int margin) {
  Pressure settled = current;
  // Step down one level at a time while utilization is still within the margin of the
  // threshold that raised the level above `settled`.
  for (Pressure level = previous; level > current;
       level = static_cast<Pressure>(static_cast<int>(level) - 1)) {
    int threshold = 100;
    if (level == Pressure::kDegrade) {
      threshold = policy.degrade_at;
    } else if (level == Pressure::kQueue) {
      threshold = policy.queue_at;
    }
    if (utilization_percent > threshold - margin) {
      settled = level;
      break;
    }
  }
  return settled;
}

}  // namespace agentbudget::core
