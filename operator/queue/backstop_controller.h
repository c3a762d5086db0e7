#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/result.h"
#include "common/thread_annotations.h"
#include "kube/client.h"
#include "kube/controller.h"
#include "operator/queue/queue_cache.h"
#include "operator/queue/queue_metrics.h"
#include "operator/queue/queue_writer.h"
#include "operator/queue/run_cost_anomalies.h"

namespace agentbudget::queue {

// The level-based backstop behind the webhook, one AgentWorkload ("namespace/name") per
// reconcile, as Kueue re-suspends a Job that runs without its workload being admitted.
// Whatever let an object past the webhook — an outage (the mutating webhook fails open), a
// Job or Pod older than its namespace's opt-in or than the workload, an update that
// bypassed validation — the state converges back to governed. In a namespace labelled
// agentbudget.io/inject=enabled, for the Jobs and Pods the workload governs
// (GoverningWorkload):
//   - a Job running without an admission (RunsWithoutAdmission) is suspended and returned to
//     the queue, {"state":"Pending","reason":"NotAdmitted"} and labelled for the workload
//     when it was not, with a Warning Event NotAdmitted naming the Job, the workload and the
//     rule, and agentbudget_queue_resuspended_total; admission then plans it like any held
//     run. Finished Jobs are left alone;
//   - a Pod running without the meter (RunsWithoutMeter) gets a Warning Event Unmetered
//     (once per pod while it stays unmetered) and is counted in
//     agentbudget_unmetered_pods{namespace,workload};
//   - the workload's status.conditions (WorkloadConditions: Unmetered, NoApprovers while
//     approval is required, RunCostAnomaly once a run's cost was judged) are written when
//     what they say changed.
// Every input is in the caches, so it reconciles on their events only. Thread-safe.
class BackstopController {
 public:
  // `client` writes the workload's status; every reference must outlive the controller.
  BackstopController(kube::Client& client, QueueCache& cache, QueueWriter& writer,
                     QueueMetrics& metrics, RunCostAnomalies& anomalies, const Clock& clock);

  Result<kube::ReconcileResult> Reconcile(const std::string& workload) EXCLUDES(mu_);

  // The workload keys a change maps to: for a Job running without an admission or a Pod
  // running without the meter, the workload governing it; for a Namespace or an
  // AgentWorkload, every workload of the namespace (and the AgentWorkload's own key).
  std::vector<std::string> ForJob(const nlohmann::json& job) const;
  std::vector<std::string> ForPod(const nlohmann::json& pod) const;
  std::vector<std::string> ForNamespace(const nlohmann::json& ns) const;
  std::vector<std::string> ForWorkload(const nlohmann::json& workload) const;

  // Pods remembered as reported Unmetered (for tests of the bound).
  size_t reported_pods() const EXCLUDES(mu_);

 private:
  // Suspends the workload's Jobs running without an admission; returns whether a write
  // failed and is left for a retry.
  bool Resuspend(const std::string& key, const std::vector<v1alpha1::Workload>& workloads);
  // The workload's Pods running without the meter, by key.
  std::map<std::string, nlohmann::json> Unmetered(
      const std::string& key, const std::vector<v1alpha1::Workload>& workloads) const;
  // Events for pods not reported before; the gauge.
  void Report(const std::string& key, const std::map<std::string, nlohmann::json>& unmetered)
      EXCLUDES(mu_);
  void WriteConditions(const std::string& key, const nlohmann::json& object,
                       const v1alpha1::Workload& workload,
                       const std::map<std::string, nlohmann::json>& unmetered) EXCLUDES(mu_);
  // Forgets everything about workload `key`, which is gone.
  void Forget(const std::string& key) EXCLUDES(mu_);

  kube::Client& client_;
  QueueCache& cache_;
  QueueWriter& writer_;
  QueueMetrics& metrics_;
  RunCostAnomalies& anomalies_;
  const Clock& clock_;

  mutable Mutex mu_;
  // Per workload, the UIDs of its pods reported Unmetered: exactly those still running
  // without the meter at its last reconcile, so bounded by them; dropped with the workload.
  std::map<std::string, std::set<std::string>> reported_ GUARDED_BY(mu_);
  // Per workload, the conditions last written and the workload's version they were written
  // over: while the cache still shows that version, it does not show them yet. At most one
  // entry per workload; dropped with it.
  struct Written {
    std::string stale_version;
    nlohmann::json conditions;
  };
  std::map<std::string, Written> conditions_written_ GUARDED_BY(mu_);
};

}  // namespace agentbudget::queue
