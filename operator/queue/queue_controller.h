#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/result.h"
#include "core/pressure.h"
#include "kube/client.h"
#include "kube/controller.h"
#include "kube/event_recorder.h"
#include "kube/informer.h"
#include "operator/authority/ledger.h"
#include "operator/queue/budget_pressure.h"
#include "operator/queue/compute_cost.h"
#include "operator/queue/queue_metrics.h"
#include "operator/queue/queue_object.h"

namespace agentbudget::queue {

// The AgentWorkload admission queue (docs/admission-queue.md). Watches governed Jobs and
// Pods (label agentbudget.io/workload), AgentWorkloads, AgentBudgets and Namespaces, and
// runs one level-based pass at a time on a single worker, so admission has one writer:
//   1. suspends running Deferrable Jobs whose budget is at Queue pressure or beyond, and
//      ends runs at their ceiling when their workload asks (perRun.onCeiling: Stop);
//   2. plans with core::PlanAdmission and admits (unsuspends Jobs, removes the Pods'
//      admission gate) with patches conditioned on the cached resourceVersion;
//   3. records finished runs (outcome metric, {"state":"Finished"} annotation) and their
//      outcomes in the ledger;
//   4. writes each held object's reason and position (an Event when the reason changes);
//   5. charges terminated agent pods' compute to their run through the ledger;
//   6. writes AgentWorkload status and metrics.
// Every decision is re-derived from the cluster (annotations, suspend, gates), so a
// restarted operator neither forgets queued work nor admits anything twice. Writes the
// informers have not yet reflected are remembered until they are, so a pass never counts
// from a stale cache.
// Start() only on the leader. Thread-safe.
class QueueController {
 public:
  struct Options {
    // Annotation writes per pass beyond admissions and suspensions; the rest follow in the
    // next pass, so a deep queue cannot delay admissions.
    int max_writes_per_pass = 100;
    // A held object's position is rewritten at most this often (its reason at once).
    std::chrono::milliseconds position_refresh{10000};
    // Passes run at least this often (budget status, approvals and deadlines change too).
    std::chrono::milliseconds resync{5000};
    ComputePrices prices;
  };

  // `client`, `ledger`, `recorder`, `metrics` and `clock` must outlive the controller.
  QueueController(kube::Client& client, authority::Ledger& ledger, kube::EventRecorder& recorder,
                  QueueMetrics& metrics, const Clock& clock, Options options);
  ~QueueController();
  QueueController(const QueueController&) = delete;
  QueueController& operator=(const QueueController&) = delete;

  // Starts the informers, waits until their caches are complete, then starts the pass
  // worker. Returns early (false) if Stop() is called meanwhile. REQUIRES: not started.
  bool Start();
  // Stops the worker (finishing the pass in progress) and the informers. Idempotent.
  void Stop();

 private:
  // One governed object with what the pass derived for it.
  struct Entry {
    QueueObject item;
    core::WorkPriority priority = core::WorkPriority::kStandard;
    core::Pressure pressure = core::Pressure::kNone;
    std::string budget;  // the budget that applies `pressure`
  };
  // A write not yet reflected by the informer: while the cached object still has
  // `stale_version`, the pass reads `state` and `annotation` instead.
  struct Written {
    std::string stale_version;
    QueueState state;
    std::optional<QueueAnnotation> annotation;
  };
  struct Workloads;
  // What the ledger's replies (run on its commit thread, possibly after this controller is
  // gone) may touch: shared with them, cut off from the metrics on destruction.
  struct ReplyState {
    std::mutex mu;
    QueueMetrics* metrics = nullptr;                     // GUARDED_BY(mu); null once destroyed
    std::unordered_set<std::string> reported_outcomes;  // GUARDED_BY(mu): outcome report keys
  };

  Result<kube::ReconcileResult> Pass();
  // The caller the authority charges `item`'s run as (its attribution and budgets).
  static Result<authority::Caller> CallerOf(const nlohmann::json& object, const QueueObject& item,
                                            const Workloads& workloads);
  std::vector<Entry> ReadEntries(const Workloads& workloads);
  // Applies and remembers a successful write of `item`.
  void Remember(const Entry& entry, QueueState state, std::optional<QueueAnnotation> annotation);
  Status Write(const Entry& entry, const nlohmann::json& patch);
  void Record(const Entry& entry, kube::EventSeverity severity, std::string_view reason,
              const std::string& message);
  // Ends running runs whose workload has perRun.onCeiling Stop and whose ceiling the
  // ledger saw reached, with their subagents. Returns whether a write must be retried.
  bool StopRunsAtCeiling(const Workloads& workloads, std::vector<Entry>& entries);
  // Records in the ledger how each top-level run ended, and CI's later outcome, once per
  // process (authority::kOutcomeReport), so the month's outcomes outlive the Jobs.
  void ReportOutcomes(const Workloads& workloads, const std::vector<Entry>& entries);
  void ChargeCompute(const Workloads& workloads);
  void Charge(const nlohmann::json& pod, const Workloads& workloads);
  void WriteStatuses(const Workloads& workloads, const std::vector<Entry>& entries);

  kube::Client& client_;
  authority::Ledger& ledger_;
  kube::EventRecorder& recorder_;
  QueueMetrics& metrics_;
  const Clock& clock_;
  const Options options_;

  kube::Informer jobs_;
  kube::Informer pods_;
  kube::Informer workloads_;
  kube::Informer budgets_;
  kube::Informer namespaces_;
  kube::Controller controller_;

  std::mutex mu_;
  std::vector<nlohmann::json> deleted_pods_;  // GUARDED_BY(mu_): to charge, then forget
  bool stopping_ = false;                     // GUARDED_BY(mu_)
  bool started_ = false;                      // GUARDED_BY(mu_)

  const std::shared_ptr<ReplyState> replies_;

  // Owned by the single pass worker.
  BudgetPressure pressure_;
  std::unordered_map<std::string, Written> written_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> position_written_;
  std::unordered_set<std::string> charged_pods_;          // pod UIDs charged this process
  std::map<std::string, int64_t> admitted_total_;          // per workload, as last written
  std::map<std::string, nlohmann::json> status_written_;  // per workload: the last patch
};

}  // namespace agentbudget::queue
