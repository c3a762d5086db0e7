#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "core/run_cost_baseline.h"

namespace agentbudget::queue {

// A finished run that cost more than its workflow's usual.
struct CostAnomaly {
  std::string run;
  int64_t cost_micros = 0;
  int64_t median_micros = 0;  // of the workflow's runs before it
  size_t runs = 0;            // how many that median is over
  int multiple_percent = 0;   // the multiple it passed, in percent

  // "run r-7 cost 9.2 USD, more than 300% of the median 1.1 USD of this workflow's last 50
  // finished runs".
  std::string Describe() const;
};

// Each AgentWorkload's (one workflow's) recent run costs, judged as its top-level runs end
// (core::RunCostBaseline), and its latest judgement, for its RunCostAnomaly condition.
// Bound: per workload kept, core::RunCostBaseline::kWindow runs and one anomaly; workloads
// are forgotten when deleted (Forget). Kept in memory: after a restart the window refills
// from the finished runs still in the cluster. Thread-safe.
class RunCostAnomalies {
 public:
  // REQUIRES: multiple_percent > 100.
  explicit RunCostAnomalies(int multiple_percent) : multiple_percent_(multiple_percent) {}

  // Judges `run` of `workload` costing `cost_micros` as it ends. Returns the anomaly when
  // it is one; nullopt for a usual run, a run judged before, or too few runs to judge.
  std::optional<CostAnomaly> Judge(const std::string& workload, const std::string& run,
                                   int64_t cost_micros) EXCLUDES(mu_);
  // The workload's latest judged run if it was an anomaly; nullopt when it was usual or
  // none was judged yet.
  std::optional<CostAnomaly> Latest(const std::string& workload) const EXCLUDES(mu_);
  // Whether a run of `workload` was judged yet (its condition says so).
  bool Judged(const std::string& workload) const EXCLUDES(mu_);
  void Forget(const std::string& workload) EXCLUDES(mu_);

  int multiple_percent() const { return multiple_percent_; }
  size_t workloads() const EXCLUDES(mu_);

 private:
  struct Workflow {
    core::RunCostBaseline baseline;
    bool judged = false;
    std::optional<CostAnomaly> latest;
  };

  const int multiple_percent_;
  mutable Mutex mu_;
  std::map<std::string, Workflow> workflows_ GUARDED_BY(mu_);
};

}  // namespace agentbudget::queue
