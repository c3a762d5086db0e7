#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/result.h"
#include "common/thread_annotations.h"
#include "kube/controller.h"
#include "operator/authority/ledger.h"
#include "operator/queue/compute_cost.h"
#include "operator/queue/queue_cache.h"
#include "operator/queue/queue_metrics.h"

namespace agentbudget::queue {

// Compute cost, one governed Pod ("namespace/name") per reconcile: a terminated (Succeeded
// or Failed) or deleted agent pod is charged requests × runtime × prices to its run as a
// ledger direct debit of kind `compute`, keyed `compute-<pod UID>`, so a charge repeated
// after a restart is answered from the ledger's idempotency record. A deleted pod is
// charged from the last state its informer saw (OnDeleted keeps it for the reconcile). A
// pod deleted while no replica leads is not charged (its last state is nobody's). Bounded:
// deleted pods are kept by the leader only (Queue), until their reconcile; charged UIDs
// while their pods are cached. Thread-safe.
class ComputeController {
 public:
  // Every reference must outlive the controller.
  ComputeController(QueueCache& cache, authority::Ledger& ledger, QueueMetrics& metrics,
                    const Clock& clock, ComputePrices prices);
  // Cuts the ledger's pending replies off from the metrics.
  ~ComputeController();
  ComputeController(const ComputeController&) = delete;
  ComputeController& operator=(const ComputeController&) = delete;

  // Whether any price is set; with none there is nothing to charge or watch.
  bool enabled() const;
  // Keeps a deleted pod's last state for its reconcile; returns its key.
  std::string OnDeleted(const nlohmann::json& pod) EXCLUDES(mu_);

  Result<kube::ReconcileResult> Reconcile(const std::string& pod) EXCLUDES(mu_);

 private:
  struct ReplyState {
    Mutex mu;
    QueueMetrics* metrics GUARDED_BY(mu) = nullptr;  // null once destroyed
  };
  void Charge(const nlohmann::json& pod) EXCLUDES(mu_);

  QueueCache& cache_;
  authority::Ledger& ledger_;
  const Clock& clock_;
  const ComputePrices prices_;
  const std::shared_ptr<ReplyState> replies_;

  Mutex mu_;
  // By key, until reconciled.
  std::map<std::string, nlohmann::json> deleted_ GUARDED_BY(mu_);
  // Pod UIDs charged, until their pod's deletion is reconciled.
  std::unordered_set<std::string> charged_ GUARDED_BY(mu_);
};

}  // namespace agentbudget::queue
