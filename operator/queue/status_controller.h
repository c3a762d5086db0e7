#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <unordered_set>
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

namespace agentbudget::queue {

// Outcomes and status, one AgentWorkload per reconcile:
//   - each finished run is counted once (agentbudget_runs_total) and marked
//     {"state":"Finished","outcome":…};
//   - how each top-level run ended, and CI's later agentbudget.io/outcome, are recorded in
//     the ledger as zero-cost reports keyed by run and outcome (authority::kOutcomeReport),
//     so the month's outcomes outlive the Jobs and a repeated report counts once;
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
                   authority::Ledger& ledger, QueueMetrics& metrics, Options options);
  // Cuts the ledger's pending replies off from the metrics.
  ~StatusController();
  StatusController(const StatusController&) = delete;
  StatusController& operator=(const StatusController&) = delete;

  Result<kube::ReconcileResult> Reconcile(const std::string& workload) EXCLUDES(mu_);

 private:
  // What the ledger's replies (run on its commit thread, possibly after this controller is
  // gone) may touch: shared with them, cut off from the metrics on destruction.
  struct ReplyState {
    Mutex mu;
    QueueMetrics* metrics GUARDED_BY(mu) = nullptr;  // null once destroyed
    std::unordered_set<std::string> reported_outcomes GUARDED_BY(mu);  // report keys
  };

  // Marks finished runs; returns whether writes are left for later.
  bool MarkFinished(std::vector<Entry>& entries);
  void ReportOutcomes(const std::vector<Entry>& entries);
  void WriteStatus(const std::string& workload, const std::vector<Entry>& entries) EXCLUDES(mu_);

  kube::Client& client_;
  QueueCache& cache_;
  QueueWriter& writer_;
  authority::Ledger& ledger_;
  QueueMetrics& metrics_;
  const Options options_;
  const std::shared_ptr<ReplyState> replies_;

  Mutex mu_;
  std::map<std::string, nlohmann::json> status_written_ GUARDED_BY(mu_);  // the last patch
};

}  // namespace agentbudget::queue
