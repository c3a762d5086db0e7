#include "operator/queue/reported_outcomes.h"

namespace agentbudget::queue {

bool ReportedOutcomes::Claim(const std::string& workload, const std::string& run,
                             const std::string& outcome) {
  MutexLock lock(mu_);
  return reported_[workload][run].insert(outcome).second;
}

void ReportedOutcomes::Release(const std::string& workload, const std::string& run,
                               const std::string& outcome) {
  MutexLock lock(mu_);
  const auto of_workload = reported_.find(workload);
  if (of_workload == reported_.end()) {
    return;
  }
  const auto of_run = of_workload->second.find(run);
  if (of_run == of_workload->second.end()) {
    return;
  }
  of_run->second.erase(outcome);
  if (of_run->second.empty()) {
    of_workload->second.erase(of_run);
  }
  if (of_workload->second.empty()) {
    reported_.erase(of_workload);
  }
}

void ReportedOutcomes::Retain(const std::string& workload, const std::set<std::string>& runs) {
  MutexLock lock(mu_);
  const auto of_workload = reported_.find(workload);
  if (of_workload == reported_.end()) {
    return;
  }
  std::erase_if(of_workload->second,
                [&runs](const auto& run) { return !runs.contains(run.first); });
  if (of_workload->second.empty()) {
    reported_.erase(of_workload);
  }
}

size_t ReportedOutcomes::size() const {
  MutexLock lock(mu_);
  size_t outcomes = 0;
  for (const auto& [workload, runs] : reported_) {
    for (const auto& [run, reported] : runs) {
      outcomes += reported.size();
    }
  }
  return outcomes;
}

}  // namespace agentbudget::queue
