#include "operator/queue/compute_controller.h"

#include "api/v1alpha1/labels.h"
#include "common/log.h"
#include "core/json_field.h"
#include "kube/resource.h"
#include "operator/authority/token_review_authenticator.h"

namespace agentbudget::queue {

using nlohmann::json;

ComputeController::ComputeController(QueueCache& cache, authority::Ledger& ledger,
                                     QueueMetrics& metrics, const Clock& clock,
                                     ComputePrices prices)
    : cache_(cache),
      ledger_(ledger),
      clock_(clock),
      prices_(prices),
      replies_(std::make_shared<ReplyState>()) {
  MutexLock lock(replies_->mu);
  replies_->metrics = &metrics;
}

ComputeController::~ComputeController() {
  MutexLock lock(replies_->mu);
  replies_->metrics = nullptr;
}

bool ComputeController::enabled() const {
  return prices_.micros_per_core_hour != 0 || prices_.micros_per_gib_hour != 0;
}

std::string ComputeController::OnDeleted(const json& pod) {
  std::string key = kube::ObjectKey(pod);
  MutexLock lock(mu_);
  deleted_[key] = pod;
  return key;
}

Result<kube::ReconcileResult> ComputeController::Reconcile(const std::string& key) {
  if (std::optional<json> pod = cache_.pods().store().Get(key)) {
    const std::string phase = core::StringField(pod->value("status", json::object()), "phase");
    if (phase == "Succeeded" || phase == "Failed") {
      Charge(*pod);
    }
    return kube::ReconcileResult{};
  }
  std::optional<json> deleted;
  {
    MutexLock lock(mu_);
    if (auto found = deleted_.find(key); found != deleted_.end()) {
      deleted = std::move(found->second);
      deleted_.erase(found);
    }
  }
  if (deleted) {
    Charge(*deleted);
    // Gone for good: its UID need not be remembered.
    MutexLock lock(mu_);
    charged_.erase(core::StringField((*deleted)["metadata"], "uid"));
  }
  return kube::ReconcileResult{};
}

void ComputeController::Charge(const json& pod) {
  const std::string uid = core::StringField(pod.value("metadata", json::object()), "uid");
  {
    MutexLock lock(mu_);
    if (uid.empty() || !charged_.insert(uid).second) {
      return;
    }
  }
  const std::string ns = core::StringField(pod["metadata"], "namespace");
  const core::Labels labels = v1alpha1::LabelsOf(pod);
  const auto workload_label = labels.find(v1alpha1::keys::kWorkload);
  const std::string workload_key =
      ns + "/" + (workload_label == labels.end() ? "" : workload_label->second);
  auto caller = authority::CallerFromObjects(pod, cache_.Namespace(ns),
                                             cache_.WorkloadObject(workload_key));
  const auto seconds =
      RuntimeSeconds(pod, std::chrono::time_point_cast<std::chrono::seconds>(clock_.Now()));
  if (!caller.ok() || !seconds) {
    return;  // not a governed agent pod, or it never ran
  }
  const int64_t micros = ComputeCostMicros(RequestsOf(pod), *seconds, prices_);
  if (micros == 0) {
    return;
  }
  // Keyed by the pod's UID: a charge repeated after a restart is answered from the ledger's
  // idempotency record, so the run pays once.
  authority::EventRequest request{"compute-" + uid, "compute", micros, 0, 0};
  ledger_.RecordEvent(*caller, request, [replies = replies_, uid, micros](Result<json> answer) {
    if (!answer.ok()) {
      log::Warn("compute charge failed", {{"pod", uid}, {"error", answer.error().ToString()}});
      return;
    }
    MutexLock lock(replies->mu);
    if (replies->metrics != nullptr) {
      replies->metrics->CountCompute(micros);
    }
  });
}

}  // namespace agentbudget::queue
