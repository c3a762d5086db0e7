#include "operator/queue/run_cost_anomalies.h"

#include "core/money.h"

namespace agentbudget::queue {

std::string CostAnomaly::Describe() const {
  return "run " + run + " cost " + core::Money::FromMicros(cost_micros).ToString() +
         " USD, more than " + std::to_string(multiple_percent) + "% of the median " +
         core::Money::FromMicros(median_micros).ToString() + " USD of this workflow's last " +
         std::to_string(runs) + " finished runs";
}

std::optional<CostAnomaly> RunCostAnomalies::Judge(const std::string& workload,
                                                   const std::string& run,
                                                   int64_t cost_micros) {
  MutexLock lock(mu_);
  Workflow& workflow = workflows_[workload];
  const auto judgement = workflow.baseline.Judge(run, cost_micros, multiple_percent_);
  if (!judgement) {
    return std::nullopt;
  }
  workflow.judged = true;
  workflow.latest.reset();
  if (judgement->anomalous) {
    workflow.latest =
        CostAnomaly{run, cost_micros, judgement->median, judgement->runs, multiple_percent_};
  }
  return workflow.latest;
}

std::optional<CostAnomaly> RunCostAnomalies::Latest(const std::string& workload) const {
  MutexLock lock(mu_);
  const auto found = workflows_.find(workload);
  return found == workflows_.end() ? std::nullopt : found->second.latest;
}

bool RunCostAnomalies::Judged(const std::string& workload) const {
  MutexLock lock(mu_);
  const auto found = workflows_.find(workload);
  return found != workflows_.end() && found->second.judged;
}

void RunCostAnomalies::Forget(const std::string& workload) {
  MutexLock lock(mu_);
  workflows_.erase(workload);
}

size_t RunCostAnomalies::workloads() const {
  MutexLock lock(mu_);
  return workflows_.size();
}

}  // namespace agentbudget::queue
