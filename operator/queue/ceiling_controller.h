#pragma once

#include <chrono>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "kube/controller.h"
#include "operator/authority/ledger.h"
#include "operator/queue/queue_cache.h"
#include "operator/queue/queue_metrics.h"
#include "operator/queue/queue_writer.h"

namespace agentbudget::queue {

// Run ceilings, one AgentWorkload per reconcile: when the workload has perRun.onCeiling:
// Stop, each of its running runs whose ceiling the authority's ledger saw reached
// (RunSummary::ceiling) is ended with its subagents — spec.activeDeadlineSeconds becomes
// the seconds it has been active (StopPatch) — with a Warning Event RunCeilingReached and
// agentbudget_run_ceiling_stops_total. A run already ending is left alone, so a restarted
// operator neither ends it twice nor repeats the Event. The ledger changes without cluster
// events, so a workload with running runs is re-checked every `resync`. Thread-safe.
class CeilingController {
 public:
  // Every reference must outlive the controller.
  CeilingController(QueueCache& cache, QueueWriter& writer, const authority::Ledger& ledger,
                    QueueMetrics& metrics, const Clock& clock, std::chrono::milliseconds resync);

  Result<kube::ReconcileResult> Reconcile(const std::string& workload);

 private:
  QueueCache& cache_;
  QueueWriter& writer_;
  const authority::Ledger& ledger_;
  QueueMetrics& metrics_;
  const Clock& clock_;
  const std::chrono::milliseconds resync_;
};

}  // namespace agentbudget::queue
