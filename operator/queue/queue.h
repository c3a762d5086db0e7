#pragma once

#include <chrono>

#include "common/clock.h"
#include "kube/client.h"
#include "kube/event_recorder.h"
#include "kube/manager.h"
#include "operator/authority/ledger.h"
#include "operator/queue/admission_controller.h"
#include "operator/queue/backstop_controller.h"
#include "operator/queue/budget_pressure.h"
#include "operator/queue/ceiling_controller.h"
#include "operator/queue/compute_controller.h"
#include "operator/queue/pressure_controller.h"
#include "operator/queue/queue_cache.h"
#include "operator/queue/queue_metrics.h"
#include "operator/queue/queue_writer.h"
#include "operator/queue/run_cost_anomalies.h"
#include "operator/queue/status_controller.h"

namespace agentbudget::queue {

// The AgentWorkload admission queue (docs/admission-queue.md) as controllers of `manager`,
// each with one job and all sharing the manager's caches (QueueCache), run on the leader
// only:
//   agentworkload-admission  per workload: plan, admit, held objects' reason and position
//                            (one worker: the single writer of every cap)
//   agentbudget-pressure     per budget: settle pressure, suspend running Deferrable Jobs
//   agentworkload-ceiling    per workload: end runs at their ceiling (onCeiling: Stop)
//   agentworkload-status     per workload: finished runs, outcomes, status and metrics
//   pod-compute              per pod: charge terminated agent pods' compute (prices set)
//   agentworkload-backstop   per workload: re-suspend Jobs running without an admission,
//                            report Pods running without the meter, the workload's conditions
// Job and Pod events map to their workload's key through agentbudget.io/workload (a
// subagent's also to the workloads sharing its parent run's caps); for the backstop, to the
// workload governing them, labelled or not (BackstopController::ForJob). A leader setup settles
// every budget's pressure before any of them runs. Construct before the manager starts,
// after the operator's own leader setups (the ledger's recovery); it must outlive the
// manager's run.
class Queue {
 public:
  struct Options {
    AdmissionController::Options admission;
    // How often ledger-driven state (spend, ceilings) and pressure backstops are re-checked.
    std::chrono::milliseconds resync{5000};
    ComputePrices prices;
    // A finished run costing more than this percent of its workflow's rolling median is a
    // cost anomaly (RunCostAnomalies). REQUIRES: > 100.
    int run_cost_anomaly_percent = 300;
  };

  // `client` makes the queue's writes (its own rate limit); every reference must outlive
  // the queue.
  Queue(kube::Manager& manager, kube::Client& client, authority::Ledger& ledger,
        kube::EventRecorder& recorder, QueueMetrics& metrics, const Clock& clock,
        Options options);
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

 private:
  QueueCache cache_;
  QueueWriter writer_;
  BudgetPressure pressure_;
  RunCostAnomalies anomalies_;
  AdmissionController admission_;
  PressureController pressure_controller_;
  CeilingController ceiling_;
  StatusController status_;
  ComputeController compute_;
  BackstopController backstop_;
};

}  // namespace agentbudget::queue
