#include "operator/queue/queue_controller.h"

#include <algorithm>

#include "api/v1alpha1/agent_workload.h"
#include "api/v1alpha1/resources.h"
#include "common/log.h"
#include "core/admission_plan.h"
#include "core/json_field.h"
#include "core/money.h"
#include "operator/authority/token_review_authenticator.h"
#include "operator/budgets/budget_controller.h"
#include "operator/queue/workload_status.h"

namespace agentbudget::queue {
namespace {

using nlohmann::json;

using v1alpha1::kAgentWorkloads;
constexpr char kPassKey[] = "queue";

kube::InformerOptions Governed(kube::ObjectTransform transform = kube::StripManagedFields) {
  kube::InformerOptions options;
  options.reflector.label_selector = v1alpha1::keys::kWorkload;
  options.transform = std::move(transform);
  return options;
}

// Jobs are cached without their pod template: the queue never reads it, and it is most of
// a Job's size.
void StripJob(json& job) {
  kube::StripManagedFields(job);
  if (job.contains("spec") && job["spec"].is_object()) {
    job["spec"].erase("template");
  }
}

// Enough of an object for an Event about it.
json Reference(const QueueObject& item) {
  const bool job = item.kind == QueueObject::Kind::kJob;
  return {{"kind", job ? "Job" : "Pod"},
          {"apiVersion", job ? "batch/v1" : "v1"},
          {"metadata", {{"name", item.name}, {"namespace", item.namespace_name}, {"uid", item.uid}}}};
}

std::string PriorityName(core::WorkPriority priority) {
  switch (priority) {
    case core::WorkPriority::kReleaseBlocking:
      return "ReleaseBlocking";
    case core::WorkPriority::kDeferrable:
      return "Deferrable";
    case core::WorkPriority::kStandard:
      break;
  }
  return "Standard";
}

// The idempotency key of the report that `run` ended with (or was judged) `outcome`.
std::string OutcomeKey(const std::string& run, const std::string& outcome) {
  return "outcome-" + run + "-" + outcome;
}

// What an Event says when `run` reached a ceiling of `workload` that ends it.
std::string CeilingMessage(const v1alpha1::Workload& workload, const authority::RunSummary& run) {
  std::string reached = "reached its ceiling " + run.ceiling;
  if (run.ceiling == "maxCost") {
    reached += " ($" + workload.max_cost + "): spent $" + run.totals.spent.ToString();
  } else if (workload.max_tokens) {
    reached += " (" + std::to_string(*workload.max_tokens) +
               "): used " + std::to_string(run.totals.tokens) + " tokens";
  }
  return reached + " in " + std::to_string(run.totals.requests) +
         " calls; ending the run (AgentWorkload " + workload.name + ", perRun.onCeiling: Stop)";
}

}  // namespace

// The AgentWorkloads of one pass, parsed, with their objects (for callers and status).
struct QueueController::Workloads {
  std::map<std::string, v1alpha1::Workload> parsed;  // by "namespace/name"
  std::map<std::string, json> objects;
  std::map<std::string, json> namespaces;  // by name

  const json& Namespace(const std::string& name) const {
    static const json kNone = json::object();
    const auto found = namespaces.find(name);
    return found == namespaces.end() ? kNone : found->second;
  }
  const json& Object(const std::string& key) const {
    static const json kNone;
    const auto found = objects.find(key);
    return found == objects.end() ? kNone : found->second;
  }
};

QueueController::QueueController(kube::Client& client, authority::Ledger& ledger,
                                 kube::EventRecorder& recorder, QueueMetrics& metrics,
                                 const Clock& clock, Options options)
    : client_(client),
      ledger_(ledger),
      recorder_(recorder),
      metrics_(metrics),
      clock_(clock),
      options_(std::move(options)),
      jobs_(client, kube::resources::kJobs, Governed(StripJob)),
      pods_(client, kube::resources::kPods, Governed()),
      workloads_(client, v1alpha1::kAgentWorkloads),
      budgets_(client, v1alpha1::kAgentBudgets),
      namespaces_(client, kube::resources::kNamespaces),
      controller_("agentworkload-queue", [this](const std::string&) { return Pass(); }),
      replies_(std::make_shared<ReplyState>()) {
  replies_->metrics = &metrics_;
  auto enqueue = [this] { controller_.queue().Add(kPassKey); };
  const kube::ResourceEventHandlers handlers{
      [enqueue](const json&) { enqueue(); },
      [enqueue](const json&, const json&) { enqueue(); },
      [enqueue](const json&) { enqueue(); },
  };
  for (kube::Informer* informer : {&jobs_, &workloads_, &budgets_, &namespaces_}) {
    informer->AddEventHandlers(handlers);
  }
  pods_.AddEventHandlers({
      [enqueue](const json&) { enqueue(); },
      [enqueue](const json&, const json&) { enqueue(); },
      [this, enqueue](const json& pod) {
        {
          std::lock_guard lock(mu_);
          deleted_pods_.push_back(pod);
        }
        enqueue();
      },
  });
}

QueueController::~QueueController() {
  Stop();
  std::lock_guard lock(replies_->mu);
  replies_->metrics = nullptr;
}

bool QueueController::Start() {
  {
    std::lock_guard lock(mu_);
    started_ = true;
  }
  std::vector<kube::Informer*> informers = {&namespaces_, &budgets_, &workloads_, &jobs_, &pods_};
  for (kube::Informer* informer : informers) {
    informer->Start();
  }
  for (kube::Informer* informer : informers) {
    while (!informer->WaitForSync(std::chrono::seconds{1})) {
      std::lock_guard lock(mu_);
      if (stopping_) {
        return false;
      }
    }
  }
  std::lock_guard lock(mu_);
  if (stopping_) {
    return false;
  }
  controller_.Start(1);
  controller_.queue().Add(kPassKey);
  log::Info("admission queue started", {{"jobs", jobs_.store().size()},
                                        {"pods", pods_.store().size()},
                                        {"workloads", workloads_.store().size()}});
  return true;
}

void QueueController::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || !started_) {
      stopping_ = true;
      return;
    }
    stopping_ = true;
  }
  controller_.Stop();
  for (kube::Informer* informer : {&pods_, &jobs_, &workloads_, &budgets_, &namespaces_}) {
    informer->Stop();
  }
}

std::vector<QueueController::Entry> QueueController::ReadEntries(const Workloads& workloads) {
  std::vector<Entry> entries;
  auto add = [&](const json& object, QueueObject::Kind kind) {
    Entry entry;
    entry.item = ReadQueueObject(object, kind);
    QueueObject& item = entry.item;
    if (const auto written = written_.find(item.key); written != written_.end()) {
      if (written->second.stale_version == item.resource_version) {
        item.state = written->second.state;
        item.annotation = written->second.annotation;
      } else {
        written_.erase(written);
      }
    }
    if (item.state == QueueState::kUngoverned || item.workload.empty()) {
      return;
    }
    const auto workload = workloads.parsed.find(item.workload);
    entry.priority = item.priority.value_or(core::WorkPriority::kStandard);
    if (!item.priority && workload != workloads.parsed.end()) {
      if (auto priority = core::ParseWorkPriority(workload->second.priority); priority.ok()) {
        entry.priority = *priority;
      }
    }
    if (item.state == QueueState::kHeld || item.state == QueueState::kRunning) {
      // Pressure comes from exactly the budgets the run's spend counts against.
      auto caller = CallerOf(object, item, workloads);
      if (caller.ok()) {
        entry.pressure = pressure_.For(caller->attribution, caller->namespace_labels, &entry.budget);
      }
    }
    entries.push_back(std::move(entry));
  };
  for (const json& job : jobs_.store().List()) {
    add(job, QueueObject::Kind::kJob);
  }
  for (const json& pod : pods_.store().List()) {
    add(pod, QueueObject::Kind::kPod);
  }
  return entries;
}

Result<authority::Caller> QueueController::CallerOf(const json& object, const QueueObject& item,
                                                    const Workloads& workloads) {
  json subject = {{"metadata",
                   {{"namespace", item.namespace_name},
                    {"name", item.name},
                    {"labels", object["metadata"].value("labels", json::object())},
                    {"annotations", object["metadata"].value("annotations", json::object())}}}};
  subject["metadata"]["labels"][v1alpha1::keys::kRun] = item.run;
  return authority::CallerFromObjects(subject, workloads.Namespace(item.namespace_name),
                                      workloads.Object(item.workload));
}

void QueueController::Remember(const Entry& entry, QueueState state,
                               std::optional<QueueAnnotation> annotation) {
  // The cache reflects the write once it holds a version other than the one written over.
  written_[entry.item.key] = Written{entry.item.resource_version, state, std::move(annotation)};
}

Status QueueController::Write(const Entry& entry, const json& patch) {
  const auto& gvr = entry.item.kind == QueueObject::Kind::kJob ? kube::resources::kJobs
                                                                : kube::resources::kPods;
  auto patched = client_.Patch(gvr, entry.item.namespace_name, entry.item.name,
                               kube::PatchType::kMerge, patch);
  if (!patched.ok()) {
    if (patched.error().code != ErrorCode::kConflict &&
        patched.error().code != ErrorCode::kNotFound) {
      log::Warn("queue write failed; retrying next pass",
                {{"object", entry.item.key}, {"error", patched.error().ToString()}});
    }
    return std::move(patched).error();
  }
  return OkStatus();
}

void QueueController::Record(const Entry& entry, kube::EventSeverity severity,
                             std::string_view reason, const std::string& message) {
  if (Status recorded = recorder_.Record(Reference(entry.item), severity, reason, message);
      !recorded.ok()) {
    log::Warn("could not record event",
              {{"object", entry.item.key}, {"error", recorded.error().ToString()}});
  }
}

Result<kube::ReconcileResult> QueueController::Pass() {
  Workloads workloads;
  for (const json& object : workloads_.store().List()) {
    const std::string key = kube::ObjectKey(object);
    auto parsed = v1alpha1::ParseWorkload(object);
    if (!parsed.ok()) {
      continue;  // the webhook's validation reports it; its runs are planned uncapped
    }
    workloads.parsed.emplace(key, std::move(*parsed));
    workloads.objects.emplace(key, object);
  }
  for (const json& ns : namespaces_.store().List()) {
    workloads.namespaces.emplace(kube::ObjectKey(ns), ns);
  }
  pressure_.Update(budgets_.store().List());
  std::vector<Entry> entries = ReadEntries(workloads);
  int writes = 0;
  bool more = false;

  // 1. Pressure: running Deferrable Jobs go back to the queue.
  for (Entry& entry : entries) {
    if (entry.item.state != QueueState::kRunning || entry.item.kind != QueueObject::Kind::kJob ||
        !core::SuspendForPressure(entry.priority, entry.pressure)) {
      continue;
    }
    const std::string message = "budget " + entry.budget + " is at " +
                                std::string(core::PressureName(entry.pressure)) +
                                " pressure: Deferrable work waits";
    const QueueAnnotation held = QueueAnnotation::Pending(
        std::string(core::HoldReasonName(core::HoldReason::kBudgetPressure)), 0, message);
    const json patch = SuspendPatch(entry.item, held);
    if (!Write(entry, patch).ok()) {
      more = true;
      continue;
    }
    Remember(entry, QueueState::kHeld, held);
    entry.item.state = QueueState::kHeld;
    entry.item.annotation = held;
    metrics_.CountSuspension();
    Record(entry, kube::EventSeverity::kWarning, held.reason, "suspended: " + message);
  }

  more = StopRunsAtCeiling(workloads, entries) || more;

  // 2. Plan and admit.
  std::map<std::string, core::WorkloadCaps> caps;
  for (const auto& [key, workload] : workloads.parsed) {
    caps[key] = core::WorkloadCaps{workload.max_parallel_runs, workload.max_subagents,
                                   workload.max_parallel_subagents, workload.approval_required};
  }
  std::unordered_map<std::string, std::string> workload_of_run;
  for (const Entry& entry : entries) {
    if (entry.item.parent_run.empty()) {
      workload_of_run.emplace(entry.item.run, entry.item.workload);
    }
  }
  std::vector<core::HeldRun> held;
  core::ActiveWork active;
  std::unordered_map<std::string, Entry*> by_key;
  for (Entry& entry : entries) {
    const QueueObject& item = entry.item;
    by_key.emplace(item.key, &entry);
    const bool subagent = !item.parent_run.empty();
    if (item.state == QueueState::kHeld) {
      const auto parent = workload_of_run.find(item.parent_run);
      held.push_back(core::HeldRun{
          item.key, item.workload, item.parent_run,
          subagent && parent != workload_of_run.end() ? parent->second : item.workload,
          entry.priority, item.created_millis, item.approved, entry.pressure});
      continue;
    }
    if (subagent) {
      ++active.subagents_ever_by_run[item.parent_run];
    }
    if (item.state == QueueState::kRunning) {
      ++(subagent ? active.subagents_by_run[item.parent_run]
                  : active.runs_by_workload[item.workload]);
    }
  }
  core::AdmissionPlan plan = core::PlanAdmission(std::move(held), caps, std::move(active));
  const int64_t now_millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 clock_.Now().time_since_epoch())
                                 .count();
  std::map<std::string, int64_t> admitted_now;
  // A run whose admission failed (a stale cache) is retried next pass; later runs of its
  // workload wait for it, so a conflict never lets them overtake it.
  std::unordered_set<std::string> blocked;
  for (const std::string& key : plan.admit) {
    Entry& entry = *by_key.at(key);
    if (blocked.contains(entry.item.workload)) {
      more = true;
      continue;
    }
    std::optional<int64_t> max_runtime;
    if (const auto workload = workloads.parsed.find(entry.item.workload);
        workload != workloads.parsed.end()) {
      max_runtime = workload->second.max_runtime_seconds;
    }
    json object;
    if (entry.item.kind == QueueObject::Kind::kPod) {
      object = pods_.store().Get(key).value_or(json());
    }
    const json patch = AdmitPatch(entry.item, object, max_runtime);
    if (!Write(entry, patch).ok()) {
      blocked.insert(entry.item.workload);
      more = true;
      continue;
    }
    const QueueAnnotation admitted = QueueAnnotation::Admitted();
    Remember(entry, QueueState::kRunning, admitted);
    entry.item.state = QueueState::kRunning;
    entry.item.annotation = admitted;
    ++admitted_now[entry.item.workload];
    metrics_.ObserveAdmission(PriorityName(entry.priority),
                              static_cast<double>(std::max<int64_t>(
                                  0, now_millis - entry.item.created_millis)) /
                                  1000.0);
  }
  for (const auto& [workload, count] : admitted_now) {
    // Counted on from what status says (a restarted operator starts from there).
    const json& object = workloads.Object(workload);
    const int64_t written = object.is_object() && object.contains("status")
                                ? object["status"].value("admittedRuns", int64_t{0})
                                : 0;
    int64_t& total = admitted_total_[workload];
    total = std::max(total, written) + count;
  }

  // 3. Finished runs: counted once, then marked.
  for (Entry& entry : entries) {
    if (entry.item.state != QueueState::kFinished) {
      continue;
    }
    if (writes >= options_.max_writes_per_pass) {
      more = true;
      break;
    }
    const QueueAnnotation finished = QueueAnnotation::Finished(entry.item.succeeded);
    ++writes;
    if (!Write(entry, AnnotationPatch(finished)).ok()) {
      more = true;
      continue;
    }
    Remember(entry, QueueState::kRecorded, finished);
    entry.item.state = QueueState::kRecorded;
    entry.item.annotation = finished;
    metrics_.CountOutcome(finished.outcome);
  }
  ReportOutcomes(workloads, entries);

  // 4. Held objects say why and where: the reason at once (with an Event), positions at
  // most every position_refresh.
  const auto now = clock_.Monotonic();
  for (const core::Hold& hold : plan.hold) {
    Entry& entry = *by_key.at(hold.key);
    const QueueAnnotation desired = QueueAnnotation::Pending(
        std::string(core::HoldReasonName(hold.reason)), hold.position, hold.message);
    const std::optional<QueueAnnotation>& current = entry.item.annotation;
    const bool reason_changed = !current || current->state != "Pending" ||
                                current->reason != desired.reason;
    if (!reason_changed && current->position == desired.position &&
        current->message == desired.message) {
      continue;
    }
    const auto last = position_written_.find(hold.key);
    if (!reason_changed && last != position_written_.end() &&
        now - last->second < options_.position_refresh) {
      more = true;  // refreshed later
      continue;
    }
    if (writes >= options_.max_writes_per_pass) {
      more = true;
      break;
    }
    writes += reason_changed ? 2 : 1;
    if (!Write(entry, AnnotationPatch(desired)).ok()) {
      more = true;
      continue;
    }
    Remember(entry, QueueState::kHeld, desired);
    entry.item.annotation = desired;
    position_written_[hold.key] = now;
    if (reason_changed) {
      Record(entry, kube::EventSeverity::kNormal, desired.reason, hold.message);
    }
  }
  for (auto it = position_written_.begin(); it != position_written_.end();) {
    const auto entry = by_key.find(it->first);
    it = entry == by_key.end() || entry->second->item.state != QueueState::kHeld
             ? position_written_.erase(it)
             : std::next(it);
  }

  // 5. Compute, 6. status and metrics.
  ChargeCompute(workloads);
  WriteStatuses(workloads, entries);
  kube::ReconcileResult result;
  result.requeue_after = more ? std::chrono::milliseconds{200} : options_.resync;
  return result;
}

bool QueueController::StopRunsAtCeiling(const Workloads& workloads, std::vector<Entry>& entries) {
  struct Stop {
    std::string ceiling;
    std::string message;
  };
  std::unordered_map<std::string, Stop> stopping;  // by run
  for (const Entry& entry : entries) {
    const QueueObject& item = entry.item;
    const auto workload = workloads.parsed.find(item.workload);
    if (item.state != QueueState::kRunning || workload == workloads.parsed.end() ||
        workload->second.on_ceiling != "Stop" || stopping.contains(item.run)) {
      continue;
    }
    const authority::RunSummary run = ledger_.Run(item.run);
    if (core::StopsRun(run.ceiling)) {
      stopping.emplace(item.run, Stop{run.ceiling, CeilingMessage(workload->second, run)});
    }
  }
  if (stopping.empty()) {
    return false;
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          clock_.Now().time_since_epoch())
                          .count();
  bool more = false;
  for (Entry& entry : entries) {
    if (entry.item.state != QueueState::kRunning) {
      continue;
    }
    auto stop = stopping.find(entry.item.run);
    const bool own = stop != stopping.end();
    if (!own) {
      stop = stopping.find(entry.item.parent_run);
    }
    std::optional<json> patch;
    if (stop == stopping.end() || !(patch = StopPatch(entry.item, now))) {
      continue;  // not at a ceiling, not started yet, or already ending
    }
    if (!Write(entry, *patch).ok()) {
      more = true;
      continue;
    }
    metrics_.CountCeilingStop(stop->second.ceiling);
    Record(entry, kube::EventSeverity::kWarning, "RunCeilingReached",
           (own ? "run " + entry.item.run : "parent run " + entry.item.parent_run) + " " +
               stop->second.message);
  }
  return more;
}

void QueueController::ReportOutcomes(const Workloads& workloads,
                                     const std::vector<Entry>& entries) {
  for (const Entry& entry : entries) {
    const QueueObject& item = entry.item;
    if (!item.parent_run.empty() ||
        (item.state != QueueState::kFinished && item.state != QueueState::kRecorded)) {
      continue;
    }
    std::vector<std::string> outcomes = {item.succeeded ? "Succeeded" : "Failed"};
    if (item.outcome == "merged" || item.outcome == "abandoned" || item.outcome == "reverted") {
      outcomes.push_back(item.outcome);
    }
    {
      std::lock_guard lock(replies_->mu);
      std::erase_if(outcomes, [&](const std::string& outcome) {
        return replies_->reported_outcomes.contains(OutcomeKey(item.run, outcome));
      });
    }
    if (outcomes.empty()) {
      continue;
    }
    const auto& store = item.kind == QueueObject::Kind::kJob ? jobs_.store() : pods_.store();
    const std::optional<json> object = store.Get(item.key);
    if (!object || !object->contains("metadata")) {
      continue;
    }
    auto caller = CallerOf(*object, item, workloads);
    if (!caller.ok()) {
      continue;  // not attributable: no workload to count it for
    }
    for (const std::string& outcome : outcomes) {
      const std::string key = OutcomeKey(item.run, outcome);
      {
        std::lock_guard lock(replies_->mu);
        replies_->reported_outcomes.insert(key);
      }
      // Keyed by run and outcome, so a report repeated after a restart counts once.
      authority::EventRequest report{key, authority::kOutcomeReport + outcome, 0, 0,
                                     std::hash<std::string>{}(key)};
      ledger_.RecordEvent(*caller, report, [replies = replies_, key](Result<json> answer) {
        if (!answer.ok()) {
          log::Warn("run outcome not recorded; retrying next pass",
                    {{"key", key}, {"error", answer.error().ToString()}});
          std::lock_guard lock(replies->mu);
          replies->reported_outcomes.erase(key);
        }
      });
    }
  }
}

void QueueController::Charge(const json& pod, const Workloads& workloads) {
  const std::string uid = core::StringField(pod.value("metadata", json::object()), "uid");
  if (uid.empty() || charged_pods_.contains(uid)) {
    return;
  }
  const std::string ns = core::StringField(pod["metadata"], "namespace");
  const core::Labels labels = v1alpha1::LabelsOf(pod);
  const auto workload_label = labels.find(v1alpha1::keys::kWorkload);
  const std::string workload_key =
      ns + "/" + (workload_label == labels.end() ? "" : workload_label->second);
  auto caller = authority::CallerFromObjects(pod, workloads.Namespace(ns),
                                             workloads.Object(workload_key));
  const auto seconds = RuntimeSeconds(
      pod, std::chrono::time_point_cast<std::chrono::seconds>(clock_.Now()));
  charged_pods_.insert(uid);
  if (!caller.ok() || !seconds) {
    return;  // not a governed agent pod, or it never ran
  }
  const int64_t micros = ComputeCostMicros(RequestsOf(pod), *seconds, options_.prices);
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
    std::lock_guard lock(replies->mu);
    if (replies->metrics != nullptr) {
      replies->metrics->CountCompute(micros);
    }
  });
}

void QueueController::ChargeCompute(const Workloads& workloads) {
  if (options_.prices.micros_per_core_hour == 0 && options_.prices.micros_per_gib_hour == 0) {
    return;
  }
  std::vector<json> deleted;
  {
    std::lock_guard lock(mu_);
    deleted.swap(deleted_pods_);
  }
  for (const json& pod : pods_.store().List()) {
    const std::string phase = core::StringField(pod.value("status", json::object()), "phase");
    if (phase == "Succeeded" || phase == "Failed") {
      Charge(pod, workloads);
    }
  }
  for (const json& pod : deleted) {
    Charge(pod, workloads);
    charged_pods_.erase(core::StringField(pod["metadata"], "uid"));
  }
}

void QueueController::WriteStatuses(const Workloads& workloads, const std::vector<Entry>& entries) {
  std::map<std::string, WorkloadTally> tallies;
  for (const auto& [key, object] : workloads.objects) {
    tallies[key];
  }
  for (const Entry& entry : entries) {
    const QueueObject& item = entry.item;
    WorkloadTally& tally = tallies[item.workload];
    if (item.state == QueueState::kHeld) {
      ++tally.queued;
    } else if (item.state == QueueState::kRunning) {
      ++tally.active;
    }
  }
  for (const auto& [key, spend] : ledger_.WorkloadSpends()) {
    if (const auto workload = workloads.parsed.find(key); workload != workloads.parsed.end()) {
      TallyMonth(spend, workload->second.fallback_models, tallies[key]);
    }
  }
  metrics_.SetWorkloads(tallies);
  for (auto& [key, tally] : tallies) {
    const json& object = workloads.Object(key);
    if (!object.is_object()) {
      continue;  // objects of a workload that does not exist (yet)
    }
    const json old_status = object.value("status", json::object());
    int64_t& admitted = admitted_total_[key];
    admitted = std::max(admitted, old_status.value("admittedRuns", int64_t{0}));
    tally.admitted = admitted;
    const json status =
        WorkloadStatusPatch(tally, object["metadata"].value("generation", int64_t{0}));
    if (StatusHolds(old_status, status) || status_written_[key] == status) {
      continue;
    }
    kube::PatchOptions options;
    options.subresource = "status";
    auto written = client_.Patch(v1alpha1::kAgentWorkloads, object["metadata"].value("namespace", ""),
                                 object["metadata"].value("name", ""), kube::PatchType::kMerge,
                                 {{"status", status}}, options);
    if (!written.ok()) {
      log::Warn("workload status write failed; retrying next pass",
                {{"workload", key}, {"error", written.error().ToString()}});
      continue;
    }
    status_written_[key] = status;
  }
}

}  // namespace agentbudget::queue
