#include "operator/queue/pressure_controller.h"

#include <algorithm>

#include "core/admission_plan.h"

namespace agentbudget::queue {

using nlohmann::json;

PressureController::PressureController(QueueCache& cache, QueueWriter& writer,
                                       BudgetPressure& pressure, QueueMetrics& metrics,
                                       std::chrono::milliseconds resync)
    : cache_(cache),
      writer_(writer),
      pressure_(pressure),
      metrics_(metrics),
      resync_(resync) {}

std::vector<std::string> PressureController::BudgetsFor(const json& job) const {
  const QueueObject item = ReadQueueObject(job, QueueObject::Kind::kJob);
  if (item.state != QueueState::kRunning) {
    return {};
  }
  const std::optional<v1alpha1::Workload> workload = cache_.Workload(item.workload);
  if (PriorityOf(item, workload ? &*workload : nullptr) != core::WorkPriority::kDeferrable) {
    return {};
  }
  return pressure_.AtLeast(core::Pressure::kQueue);
}

Result<kube::ReconcileResult> PressureController::Reconcile(const std::string& budget) {
  const std::optional<json> object = cache_.budgets().store().Get(budget);
  const bool changed = object ? pressure_.Upsert(*object) : pressure_.Remove(budget);
  if (changed && replan_all_) {
    replan_all_();
  }
  kube::ReconcileResult result;
  if (!object) {
    return result;
  }
  bool more = false;
  for (Entry& entry : cache_.Running()) {
    if (entry.item.kind != QueueObject::Kind::kJob) {
      continue;
    }
    auto caller = cache_.CallerOf(entry);
    if (!caller.ok()) {
      continue;
    }
    const core::Pressure pressure =
        pressure_.OfBudget(budget, caller->attribution, caller->namespace_labels);
    const std::optional<v1alpha1::Workload> workload = cache_.Workload(entry.item.workload);
    if (!core::SuspendForPressure(PriorityOf(entry.item, workload ? &*workload : nullptr),
                                  pressure)) {
      continue;
    }
    const std::string message = "budget " + budget + " is at " +
                                std::string(core::PressureName(pressure)) +
                                " pressure: Deferrable work waits";
    const QueueAnnotation held = QueueAnnotation::Pending(
        std::string(core::HoldReasonName(core::HoldReason::kBudgetPressure)), 0, message);
    if (!writer_.Apply(entry, SuspendPatch(entry.item, held), QueueState::kHeld, held).ok()) {
      more = true;
      continue;
    }
    metrics_.CountSuspension();
    writer_.Record(entry, kube::EventSeverity::kWarning, held.reason, "suspended: " + message);
  }
  if (more) {
    result.requeue_after = std::chrono::milliseconds{200};
  } else if (std::ranges::count(pressure_.AtLeast(core::Pressure::kQueue), budget) > 0) {
    result.requeue_after = resync_;
  }
  return result;
}

}  // namespace agentbudget::queue
