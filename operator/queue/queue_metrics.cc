#include "operator/queue/queue_metrics.h"

#include <functional>
#include <optional>

namespace agentbudget::queue {
namespace {

std::map<std::string, std::string> WorkloadLabels(const std::string& workload) {
  const size_t slash = workload.find('/');
  return {{"namespace", workload.substr(0, slash)},
          {"workload", slash == std::string::npos ? "" : workload.substr(slash + 1)}};
}

prometheus::Family<prometheus::Gauge>* Gauge(prometheus::Registry& registry, const char* name,
                                             const char* help) {
  return &prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

// One figure of every tally that has it.
std::map<std::string, double> Figure(
    const std::map<std::string, WorkloadTally>& tallies,
    const std::function<std::optional<double>(const WorkloadTally&)>& figure) {
  std::map<std::string, double> values;
  for (const auto& [workload, tally] : tallies) {
    if (const std::optional<double> value = figure(tally)) {
      values.emplace(workload, *value);
    }
  }
  return values;
}

}  // namespace

void QueueMetrics::WorkloadGauge::Set(const std::map<std::string, double>& values) {
  for (auto it = series.begin(); it != series.end();) {
    if (!values.contains(it->first)) {
      family->Remove(it->second);
      it = series.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [workload, value] : values) {
    auto& gauge = series[workload];
    if (gauge == nullptr) {
      gauge = &family->Add(WorkloadLabels(workload));
    }
    gauge->Set(value);
  }
}

void QueueMetrics::WorkloadGauge::SetOne(const std::string& workload,
                                         std::optional<double> value) {
  const auto found = series.find(workload);
  if (!value) {
    if (found != series.end()) {
      family->Remove(found->second);
      series.erase(found);
    }
    return;
  }
  prometheus::Gauge*& gauge = series[workload];
  if (gauge == nullptr) {
    gauge = &family->Add(WorkloadLabels(workload));
  }
  gauge->Set(*value);
}

QueueMetrics::QueueMetrics(prometheus::Registry& registry)
    : depth_{Gauge(registry, "agentbudget_queue_depth", "Runs held for admission, per workload.")},
      active_{Gauge(registry, "agentbudget_queue_active_runs",
                    "Runs admitted and not finished, per workload.")},
      spend_{Gauge(registry, "agentbudget_workload_spend_usd",
                   "Spend of the workload this calendar month (UTC), in USD.")},
      success_{Gauge(registry, "agentbudget_workload_success_ratio",
                     "Finished top-level runs that succeeded, as a fraction.")},
      cost_per_success_{Gauge(registry, "agentbudget_workload_cost_per_successful_run_usd",
                              "The workload's spend this month over its runs that "
                              "succeeded, in USD.")},
      cost_per_merged_{Gauge(registry, "agentbudget_workload_cost_per_merged_pr_usd",
                             "The workload's spend this month over its runs CI reported "
                             "merged, in USD.")},
      low_cost_tier_{Gauge(registry, "agentbudget_workload_low_cost_tier_ratio",
                           "LLM calls this month served by a fallback model, as a fraction.")},
      token_yield_{Gauge(registry, "agentbudget_workload_token_yield_ratio",
                         "Tokens of runs with a good outcome over all tokens, as a fraction.")},
      unmetered_{Gauge(registry, "agentbudget_unmetered_pods",
                       "Running pods the workload governs without the agentbudget-meter "
                       "container.")},
      wait_(prometheus::BuildHistogram()
                .Name("agentbudget_admission_wait_seconds")
                .Help("Time from a run's creation to its admission, by priority.")
                .Register(registry)),
      outcomes_(prometheus::BuildCounter()
                    .Name("agentbudget_runs_total")
                    .Help("Finished runs by outcome (Succeeded, Failed).")
                    .Register(registry)),
      ceiling_stops_(prometheus::BuildCounter()
                         .Name("agentbudget_run_ceiling_stops_total")
                         .Help("Jobs and Pods ended because their run reached a ceiling "
                               "(perRun.onCeiling: Stop), by ceiling.")
                         .Register(registry)),
      cost_anomalies_(prometheus::BuildCounter()
                          .Name("agentbudget_run_cost_anomalies_total")
                          .Help("Finished runs that cost more than the configured multiple of "
                                "their workflow's rolling median, by workload.")
                          .Register(registry)),
      suspensions_(prometheus::BuildCounter()
                       .Name("agentbudget_queue_suspensions_total")
                       .Help("Running Deferrable Jobs suspended for budget pressure.")
                       .Register(registry)
                       .Add({})),
      resuspensions_(prometheus::BuildCounter()
                         .Name("agentbudget_queue_resuspended_total")
                         .Help("Governed Jobs found running without an admission by the queue, "
                               "suspended and queued.")
                         .Register(registry)
                         .Add({})),
      compute_(prometheus::BuildCounter()
                   .Name("agentbudget_compute_cost_usd_total")
                   .Help("Agent pods' compute (requests x runtime x prices) charged to runs.")
                   .Register(registry)
                   .Add({})) {}

void QueueMetrics::SetWorkloads(const std::map<std::string, WorkloadTally>& tallies) {
  MutexLock lock(mu_);
  tallies_ = tallies;
  SetLocked();
}

void QueueMetrics::SetWorkload(const std::string& workload,
                               const std::optional<WorkloadTally>& tally) {
  MutexLock lock(mu_);
  if (tally) {
    tallies_[workload] = *tally;
  } else {
    tallies_.erase(workload);
  }
  SetLocked();
}

void QueueMetrics::SetLocked() {
  const std::map<std::string, WorkloadTally>& tallies = tallies_;
  auto count = [](int64_t WorkloadTally::*field) {
    return [field](const WorkloadTally& tally) -> std::optional<double> {
      return static_cast<double>(tally.*field);
    };
  };
  depth_.Set(Figure(tallies, count(&WorkloadTally::queued)));
  active_.Set(Figure(tallies, count(&WorkloadTally::active)));
  spend_.Set(Figure(tallies, [](const WorkloadTally& tally) -> std::optional<double> {
    return static_cast<double>(tally.runs.spend_micros) / 1e6;
  }));
  success_.Set(Figure(tallies, &WorkloadTally::SuccessRatio));
  cost_per_success_.Set(Figure(tallies, &WorkloadTally::CostPerSuccessfulRun));
  cost_per_merged_.Set(Figure(tallies, &WorkloadTally::CostPerMergedPr));
  low_cost_tier_.Set(Figure(tallies, &WorkloadTally::LowCostTierRatio));
  token_yield_.Set(Figure(tallies, &WorkloadTally::TokenYieldRatio));
}

void QueueMetrics::ObserveAdmission(const std::string& priority, double wait_seconds) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600};
  MutexLock lock(mu_);
  wait_.Add({{"priority", priority}}, kBuckets).Observe(wait_seconds);
}

void QueueMetrics::CountOutcome(const std::string& outcome) {
  MutexLock lock(mu_);
  outcomes_.Add({{"outcome", outcome}}).Increment();
}

void QueueMetrics::CountSuspension() { suspensions_.Increment(); }

void QueueMetrics::CountResuspension() { resuspensions_.Increment(); }

void QueueMetrics::SetUnmetered(const std::string& workload, std::optional<int64_t> pods) {
  MutexLock lock(mu_);
  unmetered_.SetOne(workload, pods ? std::optional<double>(static_cast<double>(*pods))
                                   : std::nullopt);
}

void QueueMetrics::CountCeilingStop(const std::string& ceiling) {
  MutexLock lock(mu_);
  ceiling_stops_.Add({{"ceiling", ceiling}}).Increment();
}

void QueueMetrics::CountCompute(int64_t micros) {
  compute_.Increment(static_cast<double>(micros) / 1e6);
}

void QueueMetrics::CountRunCost(const std::string& workload, bool anomalous) {
  MutexLock lock(mu_);
  prometheus::Counter*& counter = cost_anomaly_series_[workload];
  if (counter == nullptr) {
    counter = &cost_anomalies_.Add(WorkloadLabels(workload));
  }
  if (anomalous) {
    counter->Increment();
  }
}

void QueueMetrics::ForgetCostAnomalies(const std::string& workload) {
  MutexLock lock(mu_);
  if (const auto found = cost_anomaly_series_.find(workload);
      found != cost_anomaly_series_.end()) {
    cost_anomalies_.Remove(found->second);
    cost_anomaly_series_.erase(found);
  }
}

}  // namespace agentbudget::queue
