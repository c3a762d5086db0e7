#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/result.h"
#include "common/thread_annotations.h"
#include "core/admission_plan.h"
#include "kube/controller.h"
#include "operator/queue/budget_pressure.h"
#include "operator/queue/queue_cache.h"
#include "operator/queue/queue_metrics.h"
#include "operator/queue/queue_writer.h"

namespace agentbudget::queue {

// Admission, one AgentWorkload ("namespace/name") per reconcile (docs/admission-queue.md):
// plans the workload's held runs with core::PlanAdmission — FIFO within priority, its
// maxParallelRuns, the perRun fan-out caps of each subagent's parent run (counted across
// every workload, from the parent-run index), approval, and budget pressure as settled by
// the pressure controller — admits with patches conditioned on the cached
// resourceVersion, and writes each held object's reason (with an Event) and position. An
// approved run (agentbudget.io/approved-by and approved-at) is admitted with a Normal Event
// Approved naming the approver and the time.
//
// Run it with ONE worker: a parent run's fan-out caps can span workloads, and one worker
// makes admission the single writer of every cap, while each reconcile still reads only
// its workload's objects and the subagents of its runs' parents. Every count is
// re-derived from the cache plus the writes it has not reflected (QueueCache), so a
// restarted operator neither forgets queued work nor admits anything twice. A failed
// admission (409: a stale cache) holds the workload's later runs until it is retried, so a
// conflict never reorders the queue. Thread-safe.
class AdmissionController {
 public:
  struct Options {
    // Annotation writes per reconcile beyond admissions; the rest follow 200 ms later, so
    // a deep queue cannot delay admissions.
    int max_writes_per_pass = 100;
    // A held object's position is rewritten at most this often (its reason at once).
    std::chrono::milliseconds position_refresh{10000};
  };

  // Every reference must outlive the controller.
  AdmissionController(QueueCache& cache, QueueWriter& writer, const BudgetPressure& pressure,
                      QueueMetrics& metrics, const Clock& clock, Options options);

  Result<kube::ReconcileResult> Reconcile(const std::string& workload) EXCLUDES(mu_);

 private:
  struct Pass;
  // Fills in `pass` the held runs of the workload and what runs against their caps.
  void Plan(const std::string& workload, Pass& pass) const;
  void Admit(const std::string& workload, Pass& pass);
  void WriteHolds(const std::string& workload, Pass& pass) EXCLUDES(mu_);

  QueueCache& cache_;
  QueueWriter& writer_;
  const BudgetPressure& pressure_;
  QueueMetrics& metrics_;
  const Clock& clock_;
  const Options options_;

  Mutex mu_;
  // When each held object's position was last written, per workload: at most one entry per
  // object the workload holds, trimmed to them on each reconcile of the workload.
  std::map<std::string, std::map<std::string, std::chrono::steady_clock::time_point>>
      position_written_ GUARDED_BY(mu_);
};

}  // namespace agentbudget::queue
