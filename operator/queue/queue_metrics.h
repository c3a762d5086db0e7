#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace agentbudget::queue {

// The admission queue's Prometheus metrics (DESIGN.md §8), labelled by namespace and
// workload (bounded by the AgentWorkloads; never run ids):
//   agentbudget_queue_depth            held runs          (gauge)
//   agentbudget_queue_active_runs      admitted, running  (gauge)
//   agentbudget_admission_wait_seconds creation → admission (histogram, by priority)
//   agentbudget_runs_total             finished runs by outcome (Succeeded, Failed)
//   agentbudget_queue_suspensions_total running Jobs suspended for budget pressure
//   agentbudget_compute_cost_usd_total  compute charged to runs
// Thread-safe.
class QueueMetrics {
 public:
  explicit QueueMetrics(prometheus::Registry& registry);

  // Sets depth and active runs per workload ("namespace/name"); workloads missing from
  // both maps lose their series.
  void SetQueue(const std::map<std::string, int64_t>& held,
                const std::map<std::string, int64_t>& active);
  void ObserveAdmission(const std::string& priority, double wait_seconds);
  void CountOutcome(const std::string& outcome);
  void CountSuspension();
  void CountCompute(int64_t micros);

 private:
  std::mutex mu_;
  prometheus::Family<prometheus::Gauge>& depth_;
  prometheus::Family<prometheus::Gauge>& active_;
  prometheus::Family<prometheus::Histogram>& wait_;
  prometheus::Family<prometheus::Counter>& outcomes_;
  prometheus::Counter& suspensions_;
  prometheus::Counter& compute_;
  std::map<std::string, prometheus::Gauge*> depth_series_;   // GUARDED_BY(mu_)
  std::map<std::string, prometheus::Gauge*> active_series_;  // GUARDED_BY(mu_)
};

}  // namespace agentbudget::queue
