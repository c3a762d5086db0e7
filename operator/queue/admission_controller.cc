#include "operator/queue/admission_controller.h"

#include <algorithm>
#include <optional>
#include <set>
#include <unordered_map>

namespace agentbudget::queue {

using nlohmann::json;

// One reconcile's state.
struct AdmissionController::Pass {
  std::vector<Entry> entries;  // the workload's governed objects
  std::unordered_map<std::string, Entry*> by_key;
  std::unordered_map<std::string, core::WorkPriority> priority;  // of held runs, by key
  std::optional<v1alpha1::Workload> workload;
  std::map<std::string, core::WorkloadCaps> caps;
  std::vector<core::HeldRun> held;
  core::ActiveWork active;
  core::AdmissionPlan plan;
  int writes = 0;
  bool more = false;  // work left for a reconcile 200 ms later
  std::optional<std::chrono::steady_clock::duration> refresh;  // a position due later
};

namespace {

core::WorkloadCaps CapsOf(const v1alpha1::Workload& workload) {
  return core::WorkloadCaps{workload.max_parallel_runs, workload.max_subagents,
                            workload.max_parallel_subagents, workload.approval_required};
}

}  // namespace

AdmissionController::AdmissionController(QueueCache& cache, QueueWriter& writer,
                                         const BudgetPressure& pressure, QueueMetrics& metrics,
                                         const Clock& clock, Options options)
    : cache_(cache),
      writer_(writer),
      pressure_(pressure),
      metrics_(metrics),
      clock_(clock),
      options_(options) {}

Result<kube::ReconcileResult> AdmissionController::Reconcile(const std::string& workload) {
  Pass pass;
  Plan(workload, pass);
  Admit(workload, pass);
  WriteHolds(workload, pass);
  kube::ReconcileResult result;
  if (pass.more) {
    result.requeue_after = std::chrono::milliseconds{200};
  } else if (pass.refresh) {
    result.requeue_after = std::max(
        std::chrono::milliseconds{1},
        std::chrono::ceil<std::chrono::milliseconds>(*pass.refresh));
  }
  return result;
}

void AdmissionController::Plan(const std::string& workload, Pass& pass) const {
  pass.entries = cache_.OfWorkload(workload);
  pass.workload = cache_.Workload(workload);
  if (pass.workload) {
    pass.caps[workload] = CapsOf(*pass.workload);
  }
  std::set<std::string> parent_runs;
  // Pressure comes from exactly the budgets a held run's spend counts against, read for all
  // of them at once; none for a run whose caller does not resolve.
  std::vector<BudgetPressure::Spend> spends;
  std::vector<size_t> pressed;  // the index in pass.held of each of `spends`
  for (Entry& entry : pass.entries) {
    const QueueObject& item = entry.item;
    pass.by_key.emplace(item.key, &entry);
    const bool subagent = !item.parent_run.empty();
    if (item.state == QueueState::kRunning && !subagent) {
      ++pass.active.runs_by_workload[workload];
    }
    if (item.state != QueueState::kHeld) {
      continue;
    }
    const core::WorkPriority priority =
        PriorityOf(item, pass.workload ? &*pass.workload : nullptr);
    pass.priority[item.key] = priority;
    if (auto caller = cache_.CallerOf(entry); caller.ok()) {
      spends.push_back({std::move(caller->attribution), std::move(caller->namespace_labels)});
      pressed.push_back(pass.held.size());
    }
    std::string parent_workload = workload;
    if (subagent) {
      parent_runs.insert(item.parent_run);
      if (std::string found = cache_.WorkloadOfRun(item.parent_run); !found.empty()) {
        parent_workload = std::move(found);
      }
      if (!pass.caps.contains(parent_workload)) {
        if (auto parent = cache_.Workload(parent_workload)) {
          pass.caps[parent_workload] = CapsOf(*parent);
        }
      }
    }
    pass.held.push_back(core::HeldRun{item.key, item.workload, item.parent_run, parent_workload,
                                      priority, item.created_millis, item.approved});
  }
  const std::vector<core::Pressure> pressures = pressure_.For(spends);
  for (size_t i = 0; i < pressed.size(); ++i) {
    pass.held[pressed[i]].pressure = pressures[i];
  }
  // A parent run's subagents count against its caps whatever their workload.
  for (const std::string& run : parent_runs) {
    for (const Entry& sibling : cache_.OfParentRun(run)) {
      const QueueState state = sibling.item.state;
      if (state == QueueState::kHeld) {
        continue;
      }
      ++pass.active.subagents_ever_by_run[run];
      if (state == QueueState::kRunning) {
        ++pass.active.subagents_by_run[run];
      }
    }
  }
  pass.plan = core::PlanAdmission(std::move(pass.held), pass.caps, std::move(pass.active));
}

void AdmissionController::Admit(const std::string& workload, Pass& pass) {
  const int64_t now_millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 clock_.Now().time_since_epoch())
                                 .count();
  std::optional<int64_t> max_runtime;
  if (pass.workload) {
    max_runtime = pass.workload->max_runtime_seconds;
  }
  int64_t admitted = 0;
  for (const std::string& key : pass.plan.admit) {
    Entry& entry = *pass.by_key.at(key);
    const json patch = AdmitPatch(entry.item, entry.object, max_runtime);
    if (!writer_.Apply(entry, patch, QueueState::kRunning, QueueAnnotation::Admitted()).ok()) {
      // Retried from a fresher cache; the workload's later runs wait for it, so a
      // conflict never lets them overtake it.
      pass.more = true;
      break;
    }
    ++admitted;
    if (entry.item.approved) {
      // Who let an approval-gated run start, and when, next to the run itself.
      writer_.Record(entry, kube::EventSeverity::kNormal, "Approved",
                     "admitted: approved by " + entry.item.approved_by + " at " +
                         entry.item.approved_at);
    }
    metrics_.ObserveAdmission(
        PriorityName(pass.priority.at(key)),
        static_cast<double>(std::max<int64_t>(0, now_millis - entry.item.created_millis)) /
            1000.0);
  }
  if (admitted > 0) {
    // Counted on from what status says (a restarted operator starts from there).
    const json object = cache_.WorkloadObject(workload);
    const int64_t written = object.is_object() && object.contains("status")
                                ? object["status"].value("admittedRuns", int64_t{0})
                                : 0;
    cache_.AddAdmitted(workload, admitted, written);
  }
}

void AdmissionController::WriteHolds(const std::string& workload, Pass& pass) {
  const auto now = clock_.Monotonic();
  std::map<std::string, std::chrono::steady_clock::time_point> last_written;
  {
    MutexLock lock(mu_);
    last_written.swap(position_written_[workload]);
  }
  std::map<std::string, std::chrono::steady_clock::time_point> still_held;
  for (const core::Hold& hold : pass.plan.hold) {
    Entry& entry = *pass.by_key.at(hold.key);
    if (const auto last = last_written.find(hold.key); last != last_written.end()) {
      still_held.insert(*last);
    }
    const QueueAnnotation desired = QueueAnnotation::Pending(
        std::string(core::HoldReasonName(hold.reason)), hold.position, hold.message);
    const std::optional<QueueAnnotation>& current = entry.item.annotation;
    const bool reason_changed =
        !current || current->state != "Pending" || current->reason != desired.reason;
    if (!reason_changed && current->position == desired.position &&
        current->message == desired.message) {
      continue;
    }
    const auto last = last_written.find(hold.key);
    if (!reason_changed && last != last_written.end() &&
        now - last->second < options_.position_refresh) {
      const auto due = last->second + options_.position_refresh - now;
      pass.refresh = pass.refresh ? std::min(*pass.refresh, due) : due;
      continue;
    }
    if (pass.writes >= options_.max_writes_per_pass) {
      pass.more = true;
      break;
    }
    pass.writes += reason_changed ? 2 : 1;
    if (!writer_.Apply(entry, AnnotationPatch(desired), QueueState::kHeld, desired).ok()) {
      pass.more = true;
      continue;
    }
    still_held[hold.key] = now;
    if (reason_changed) {
      writer_.Record(entry, kube::EventSeverity::kNormal, desired.reason, hold.message);
    }
  }
  MutexLock lock(mu_);
  if (still_held.empty()) {
    position_written_.erase(workload);
  } else {
    position_written_[workload] = std::move(still_held);
  }
}

}  // namespace agentbudget::queue
