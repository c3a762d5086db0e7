#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "operator/queue/workload_status.h"

namespace agentbudget::queue {

// The admission queue's Prometheus metrics (docs/metrics.md), labelled by namespace and
// workload (bounded by the AgentWorkloads; never run ids):
//   agentbudget_queue_depth            held runs          (gauge)
//   agentbudget_queue_active_runs      admitted, running  (gauge)
//   agentbudget_workload_spend_usd     spend this calendar month (UTC) (gauge)
//   agentbudget_workload_success_ratio, agentbudget_workload_cost_per_successful_run_usd,
//   agentbudget_workload_cost_per_merged_pr_usd, agentbudget_workload_low_cost_tier_ratio,
//   agentbudget_workload_token_yield_ratio
//                                      AgentWorkload status's figures (gauges: fractions,
//                                      USD), as core/run_figures.h defines them
//   agentbudget_admission_wait_seconds creation → admission (histogram, by priority)
//   agentbudget_runs_total             finished runs by outcome (Succeeded, Failed)
//   agentbudget_queue_suspensions_total running Jobs suspended for budget pressure
//   agentbudget_queue_resuspended_total Jobs found running without an admission, suspended
//   agentbudget_unmetered_pods         running pods a workload governs without the meter (gauge)
//   agentbudget_run_ceiling_stops_total Jobs and Pods ended at a run ceiling, by ceiling
//   agentbudget_compute_cost_usd_total  compute charged to runs
// Thread-safe.
class QueueMetrics {
 public:
  explicit QueueMetrics(prometheus::Registry& registry);

  // Sets the per-workload gauges from `tallies` ("namespace/name"); workloads missing from
  // it lose their series, and a figure without a denominator has none.
  void SetWorkloads(const std::map<std::string, WorkloadTally>& tallies) EXCLUDES(mu_);
  // Sets the gauges of one workload ("namespace/name") from `tally`; nullopt removes them.
  void SetWorkload(const std::string& workload, const std::optional<WorkloadTally>& tally)
      EXCLUDES(mu_);
  void ObserveAdmission(const std::string& priority, double wait_seconds);
  void CountOutcome(const std::string& outcome);
  void CountSuspension();
  void CountResuspension();
  // Sets workload ("namespace/name")'s unmetered pods; nullopt removes its series.
  void SetUnmetered(const std::string& workload, std::optional<int64_t> pods) EXCLUDES(mu_);
  void CountCeilingStop(const std::string& ceiling);
  void CountCompute(int64_t micros);
  // A finished run of workload ("namespace/name") whose cost was looked at: counted when it
  // cost more than its workflow's usual (RunCostAnomalies). The series starts at 0 with the
  // workload's first finished run, so that an alert on its increase sees the first anomaly.
  // ForgetCostAnomalies removes the series when the workload is deleted.
  void CountRunCost(const std::string& workload, bool anomalous) EXCLUDES(mu_);
  void ForgetCostAnomalies(const std::string& workload) EXCLUDES(mu_);

 private:
  // A gauge family with one series per workload.
  struct WorkloadGauge {
    explicit WorkloadGauge(prometheus::Family<prometheus::Gauge>* gauges) : family(gauges) {}
    prometheus::Family<prometheus::Gauge>* family;
    std::map<std::string, prometheus::Gauge*> series;
    // Sets one series per key of `values`; removes the others.
    void Set(const std::map<std::string, double>& values);
    // Sets the series of `workload`; nullopt removes it.
    void SetOne(const std::string& workload, std::optional<double> value);
  };

  void SetLocked() REQUIRES(mu_);

  Mutex mu_;
  std::map<std::string, WorkloadTally> tallies_ GUARDED_BY(mu_);  // what the gauges show
  WorkloadGauge depth_ GUARDED_BY(mu_);
  WorkloadGauge active_ GUARDED_BY(mu_);
  WorkloadGauge spend_ GUARDED_BY(mu_);
  WorkloadGauge success_ GUARDED_BY(mu_);
  WorkloadGauge cost_per_success_ GUARDED_BY(mu_);
  WorkloadGauge cost_per_merged_ GUARDED_BY(mu_);
  WorkloadGauge low_cost_tier_ GUARDED_BY(mu_);
  WorkloadGauge token_yield_ GUARDED_BY(mu_);
  WorkloadGauge unmetered_ GUARDED_BY(mu_);
  // Families synchronise themselves; their series are added under mu_ all the same.
  prometheus::Family<prometheus::Histogram>& wait_;
  prometheus::Family<prometheus::Counter>& outcomes_;
  prometheus::Family<prometheus::Counter>& ceiling_stops_;
  prometheus::Family<prometheus::Counter>& cost_anomalies_;
  std::map<std::string, prometheus::Counter*> cost_anomaly_series_ GUARDED_BY(mu_);
  prometheus::Counter& suspensions_;
  prometheus::Counter& resuspensions_;
  prometheus::Counter& compute_;
};

}  // namespace agentbudget::queue
