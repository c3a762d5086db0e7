#include "operator/queue/queue_metrics.h"

#include <set>

namespace agentbudget::queue {
namespace {

std::map<std::string, std::string> WorkloadLabels(const std::string& workload) {
  const size_t slash = workload.find('/');
  return {{"namespace", workload.substr(0, slash)},
          {"workload", slash == std::string::npos ? "" : workload.substr(slash + 1)}};
}

void SetSeries(prometheus::Family<prometheus::Gauge>& family,
               std::map<std::string, prometheus::Gauge*>& series,
               const std::map<std::string, int64_t>& values,
               const std::set<std::string>& workloads) {
  for (auto it = series.begin(); it != series.end();) {
    if (!workloads.contains(it->first)) {
      family.Remove(it->second);
      it = series.erase(it);
    } else {
      ++it;
    }
  }
  for (const std::string& workload : workloads) {
    auto& gauge = series[workload];
    if (gauge == nullptr) {
      gauge = &family.Add(WorkloadLabels(workload));
    }
    const auto value = values.find(workload);
    gauge->Set(value == values.end() ? 0.0 : static_cast<double>(value->second));
  }
}

}  // namespace

QueueMetrics::QueueMetrics(prometheus::Registry& registry)
    : depth_(prometheus::BuildGauge()
                 .Name("agentbudget_queue_depth")
                 .Help("Runs held for admission, per workload.")
                 .Register(registry)),
      active_(prometheus::BuildGauge()
                  .Name("agentbudget_queue_active_runs")
                  .Help("Runs admitted and not finished, per workload.")
                  .Register(registry)),
      wait_(prometheus::BuildHistogram()
                .Name("agentbudget_admission_wait_seconds")
                .Help("Time from a run's creation to its admission, by priority.")
                .Register(registry)),
      outcomes_(prometheus::BuildCounter()
                    .Name("agentbudget_runs_total")
                    .Help("Finished runs by outcome (Succeeded, Failed).")
                    .Register(registry)),
      suspensions_(prometheus::BuildCounter()
                       .Name("agentbudget_queue_suspensions_total")
                       .Help("Running Deferrable Jobs suspended for budget pressure.")
                       .Register(registry)
                       .Add({})),
      compute_(prometheus::BuildCounter()
                   .Name("agentbudget_compute_cost_usd_total")
                   .Help("Agent pods' compute (requests x runtime x prices) charged to runs.")
                   .Register(registry)
                   .Add({})) {}

void QueueMetrics::SetQueue(const std::map<std::string, int64_t>& held,
                            const std::map<std::string, int64_t>& active) {
  std::set<std::string> workloads;
  for (const auto* values : {&held, &active}) {
    for (const auto& [workload, count] : *values) {
      workloads.insert(workload);
    }
  }
  std::lock_guard lock(mu_);
  SetSeries(depth_, depth_series_, held, workloads);
  SetSeries(active_, active_series_, active, workloads);
}

void QueueMetrics::ObserveAdmission(const std::string& priority, double wait_seconds) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600};
  std::lock_guard lock(mu_);
  wait_.Add({{"priority", priority}}, kBuckets).Observe(wait_seconds);
}

void QueueMetrics::CountOutcome(const std::string& outcome) {
  std::lock_guard lock(mu_);
  outcomes_.Add({{"outcome", outcome}}).Increment();
}

void QueueMetrics::CountSuspension() { suspensions_.Increment(); }

void QueueMetrics::CountCompute(int64_t micros) {
  compute_.Increment(static_cast<double>(micros) / 1e6);
}

}  // namespace agentbudget::queue
