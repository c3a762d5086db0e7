#include "operator/queue/ceiling_controller.h"

#include <vector>

#include "core/run_envelope.h"

namespace agentbudget::queue {
namespace {

// What an Event says when `run` reached a ceiling of `workload` that ends it.
std::string CeilingMessage(const v1alpha1::Workload& workload, const authority::RunSummary& run) {
  std::string reached = "reached its ceiling " + run.ceiling;
  if (run.ceiling == "maxCost") {
    reached += " ($" + workload.max_cost + "): spent $" + run.totals.spent.ToString();
  } else if (workload.max_tokens) {
    reached += " (" + std::to_string(*workload.max_tokens) +
               "): used " + std::to_string(run.totals.tokens) + " tokens";
  }
  return reached + " in " + std::to_string(run.totals.requests) +
         " calls; ending the run (AgentWorkload " + workload.name + ", perRun.onCeiling: Stop)";
}

}  // namespace

CeilingController::CeilingController(QueueCache& cache, QueueWriter& writer,
                                     const authority::Ledger& ledger, QueueMetrics& metrics,
                                     const Clock& clock, std::chrono::milliseconds resync)
    : cache_(cache),
      writer_(writer),
      ledger_(ledger),
      metrics_(metrics),
      clock_(clock),
      resync_(resync) {}

Result<kube::ReconcileResult> CeilingController::Reconcile(const std::string& key) {
  kube::ReconcileResult result;
  const std::optional<v1alpha1::Workload> workload = cache_.Workload(key);
  if (!workload || workload->on_ceiling != "Stop") {
    return result;
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          clock_.Now().time_since_epoch())
                          .count();
  bool running = false;
  bool more = false;
  for (const Entry& run : cache_.OfWorkload(key)) {
    if (run.item.state != QueueState::kRunning) {
      continue;
    }
    running = true;
    const authority::RunSummary summary = ledger_.Run(run.item.run);
    if (!core::StopsRun(summary.ceiling)) {
      continue;
    }
    const std::string message = CeilingMessage(*workload, summary);
    // The run itself, and its subagents whatever their workload.
    std::vector<Entry> ending = cache_.OfParentRun(run.item.run);
    ending.insert(ending.begin(), run);
    for (Entry& entry : ending) {
      std::optional<nlohmann::json> patch;
      if (entry.item.state != QueueState::kRunning ||
          !(patch = StopPatch(entry.item, now))) {
        continue;  // not started yet, or already ending
      }
      if (!writer_.Patch(entry, *patch).ok()) {
        more = true;
        continue;
      }
      const bool own = entry.item.run == run.item.run;
      metrics_.CountCeilingStop(summary.ceiling);
      writer_.Record(entry, kube::EventSeverity::kWarning, "RunCeilingReached",
                     (own ? "run " + entry.item.run : "parent run " + entry.item.parent_run) +
                         " " + message);
    }
  }
  if (more) {
    result.requeue_after = std::chrono::milliseconds{200};
  } else if (running) {
    result.requeue_after = resync_;
  }
  return result;
}

}  // namespace agentbudget::queue
