#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "kube/controller.h"
#include "operator/queue/budget_pressure.h"
#include "operator/queue/queue_cache.h"
#include "operator/queue/queue_metrics.h"
#include "operator/queue/queue_writer.h"

namespace agentbudget::queue {

// Budget pressure, one AgentBudget (its name) per reconcile: settles the budget's
// status.pressure with hysteresis into the shared BudgetPressure that admission reads
// (and, when what it applies changed, asks admission to replan every workload: a budget
// can match any of them), and while the budget is at Queue pressure or beyond suspends
// the running Deferrable Jobs whose spend it charges, returning them to the queue with
// {"state":"Pending","reason":"BudgetPressure"} and a Warning Event. Bare Pods cannot be
// suspended. A budget under pressure is re-checked every `resync`, a backstop for a Job
// admitted just before the pressure rose. Thread-safe.
class PressureController {
 public:
  using ReplanAll = std::function<void()>;

  // Every reference must outlive the controller.
  PressureController(QueueCache& cache, QueueWriter& writer, BudgetPressure& pressure,
                     QueueMetrics& metrics, std::chrono::milliseconds resync);
  // What asks admission to replan every workload. REQUIRES: before the first reconcile.
  void SetReplanAll(ReplanAll replan_all) { replan_all_ = std::move(replan_all); }

  Result<kube::ReconcileResult> Reconcile(const std::string& budget);

  // The budget keys a change of a governed Job maps to: while it runs and is Deferrable,
  // the budgets at Queue pressure or beyond.
  std::vector<std::string> BudgetsFor(const nlohmann::json& job) const;

 private:
  QueueCache& cache_;
  QueueWriter& writer_;
  BudgetPressure& pressure_;
  QueueMetrics& metrics_;
  const std::chrono::milliseconds resync_;
  ReplanAll replan_all_;  // set before the first reconcile, then read-only
};

}  // namespace agentbudget::queue
