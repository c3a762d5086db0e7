#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/mutex.h"
#include "common/result.h"
#include "common/thread_annotations.h"
#include "kube/client.h"
#include "kube/controller.h"
#include "operator/authority/ledger.h"
#include "operator/queue/queue_cache.h"
#include "operator/queue/queue_metrics.h"
#include "operator/queue/queue_writer.h"
#include "operator/queue/reported_outcomes.h"
#include "operator/queue/run_cost_anomalies.h"

namespace agentbudget::queue {

// Outcomes and status, one AgentWorkload per reconcile:
//   - each finished run is counted once (agentbudget_runs_total) and marked
//     {"state":"Finished","outcome":…};
//   - how each top-level run ended, and CI's later agentbudget.io/outcome, are recorded in
//     the ledger as zero-cost reports keyed by run and outcome (authority::kOutcomeReport),
//     so the month's outcomes outlive the Jobs and a repeated report counts once (what was
//     reported is remembered only while the run's objects are cached: ReportedOutcomes);
//   - the cost of each top-level run that ended is judged against its workflow's recent runs
//     (RunCostAnomalies): one past the multiple of their median gets a Warning Event
//     RunCostAnomaly on its Job or Pod and counts in agentbudget_run_cost_anomalies_total;
//     the workload's RunCostAnomaly condition follows (written by the backstop, which the
//     `on_judged` callback wakes);
//   - the AgentWorkload's status fields the queue owns are written as a merge patch when
//     one changed, and its metrics set.
// Spend comes from the ledger without cluster events, so a workload is re-checked every
// `resync`. Thread-safe.
class StatusController {
 public:
  struct Options {
    // Annotation writes per reconcile; the rest follow 200 ms later.
    int max_writes_per_pass = 100;
    std::chrono::milliseconds resync{5000};
  };

  // `client` writes status; every reference must outlive the controller.
  StatusController(kube::Client& client, QueueCache& cache, QueueWriter& writer,
                   authority::Ledger& ledger, QueueMetrics& metrics,
                   RunCostAnomalies& anomalies, Options options);

  // Called with a workload's key once a run of it ended and its cost was judged. Set once,
  // before the controller runs.
  void SetOnJudged(std::function<void(const std::string&)> on_judged) {
    on_judged_ = std::move(on_judged);
  }
  StatusController(const StatusController&) = delete;
  StatusController& operator=(const StatusController&) = delete;

  Result<kube::ReconcileResult> Reconcile(const std::string& workload) EXCLUDES(mu_);

 private:
  // Marks finished runs; returns whether writes are left for later.
  bool MarkFinished(std::vector<Entry>& entries);
  void ReportOutcomes(const std::string& workload, const std::vector<Entry>& entries);
  void WriteStatus(const std::string& workload, const std::vector<Entry>& entries) EXCLUDES(mu_);
  // Judges the cost of `entry`'s run, which just ended.
  void JudgeCost(const std::string& workload, const Entry& entry);

  kube::Client& client_;
  QueueCache& cache_;
  QueueWriter& writer_;
  authority::Ledger& ledger_;
  QueueMetrics& metrics_;
  RunCostAnomalies& anomalies_;
  std::function<void(const std::string&)> on_judged_;
  const Options options_;
  // Shared with the ledger's replies, which run on its commit thread, possibly after this
  // controller is gone.
  const std::shared_ptr<ReportedOutcomes> reported_;

  Mutex mu_;
  // The last patch per workload; dropped with the workload.
  std::map<std::string, nlohmann::json> status_written_ GUARDED_BY(mu_);
};

}  // namespace agentbudget::queue
