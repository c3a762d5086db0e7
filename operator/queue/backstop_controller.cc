#include "operator/queue/backstop_controller.h"

#include <algorithm>

#include "api/v1alpha1/resources.h"
#include "common/log.h"
#include "core/json_field.h"
#include "kube/resource.h"
#include "operator/queue/governance.h"
#include "operator/queue/workload_status.h"

namespace agentbudget::queue {
namespace {

using nlohmann::json;

constexpr char kNotAdmitted[] = "NotAdmitted";
constexpr char kUnmetered[] = "Unmetered";

std::string NamespaceOf(const std::string& key) { return key.substr(0, key.find('/')); }

// Whether `governing` is the workload `key` ("namespace/name").
bool Is(const v1alpha1::Workload* governing, const std::string& key) {
  return governing != nullptr && governing->namespace_name + "/" + governing->name == key;
}

std::string NamespaceOfObject(const json& object) {
  return core::StringField(core::Member(object, {"metadata"}), "namespace");
}

}  // namespace

BackstopController::BackstopController(kube::Client& client, QueueCache& cache,
                                       QueueWriter& writer, QueueMetrics& metrics,
                                       RunCostAnomalies& anomalies, const Clock& clock)
    : client_(client),
      cache_(cache),
      writer_(writer),
      metrics_(metrics),
      anomalies_(anomalies),
      clock_(clock) {}

Result<kube::ReconcileResult> BackstopController::Reconcile(const std::string& key) {
  kube::ReconcileResult result;
  const std::optional<v1alpha1::Workload> workload = cache_.Workload(key);
  if (!workload) {
    Forget(key);  // gone, or a spec the webhook reports as invalid
    return result;
  }
  std::map<std::string, json> unmetered;
  const std::string ns = NamespaceOf(key);
  if (OptedIn(cache_.Namespace(ns))) {
    const std::vector<v1alpha1::Workload> workloads = cache_.WorkloadsIn(ns);
    if (Resuspend(key, workloads)) {
      result.requeue_after = std::chrono::milliseconds{200};
    }
    unmetered = Unmetered(key, workloads);
  }
  Report(key, unmetered);
  WriteConditions(key, cache_.WorkloadObject(key), *workload, unmetered);
  return result;
}

bool BackstopController::Resuspend(const std::string& key,
                                   const std::vector<v1alpha1::Workload>& workloads) {
  bool more = false;
  for (Entry& entry : cache_.RunningWithoutAdmission(NamespaceOf(key))) {
    const v1alpha1::Workload* governing = GoverningWorkload(entry.object, workloads);
    if (!Is(governing, key)) {
      continue;
    }
    const std::string message =
        "job " + entry.item.key + " was running without an admission by the queue, but "
        "AgentWorkload " + key + " governs it and only its admission queue starts governed "
        "Jobs (rule held-job): suspended and queued";
    const QueueAnnotation held = QueueAnnotation::Pending(kNotAdmitted, 0, message);
    // A Job the webhook never labelled joins the workload's queue by this label.
    const std::string label = entry.item.workload == key ? "" : governing->name;
    if (!writer_.Apply(entry, SuspendPatch(entry.item, held, label), QueueState::kHeld, held)
             .ok()) {
      more = true;
      continue;
    }
    metrics_.CountResuspension();
    writer_.Record(entry, kube::EventSeverity::kWarning, kNotAdmitted, message);
  }
  return more;
}

std::map<std::string, json> BackstopController::Unmetered(
    const std::string& key, const std::vector<v1alpha1::Workload>& workloads) const {
  std::map<std::string, json> unmetered;
  for (json& pod : cache_.RunningWithoutMeter(NamespaceOf(key))) {
    if (Is(GoverningWorkload(pod, workloads), key)) {
      std::string pod_key = kube::ObjectKey(pod);
      unmetered.emplace(std::move(pod_key), std::move(pod));
    }
  }
  return unmetered;
}

void BackstopController::Report(const std::string& key,
                                const std::map<std::string, json>& unmetered) {
  std::vector<const json*> fresh;
  {
    MutexLock lock(mu_);
    std::set<std::string> uids;
    const std::set<std::string>& reported = reported_[key];
    for (const auto& [pod_key, pod] : unmetered) {
      std::string uid = core::StringField(core::Member(pod, {"metadata"}), "uid");
      if (!reported.contains(uid)) {
        fresh.push_back(&pod);
      }
      uids.insert(std::move(uid));
    }
    if (uids.empty()) {
      reported_.erase(key);
    } else {
      reported_[key] = std::move(uids);
    }
  }
  for (const json* pod : fresh) {
    const Entry entry{ReadQueueObject(*pod, QueueObject::Kind::kPod), *pod};
    writer_.Record(entry, kube::EventSeverity::kWarning, kUnmetered,
                   "pod " + entry.item.key +
                       " is running without the agentbudget-meter container, but AgentWorkload " +
                       key + " governs it (rule meter-missing): its LLM calls are neither "
                       "metered nor held to budgets. It was created while the webhook was "
                       "unavailable or before the namespace opted in; delete it to have it "
                       "recreated through the webhook");
  }
  metrics_.SetUnmetered(key, static_cast<int64_t>(unmetered.size()));
}

void BackstopController::WriteConditions(const std::string& key, const json& object,
                                         const v1alpha1::Workload& workload,
                                         const std::map<std::string, json>& unmetered) {
  const json& metadata = core::Member(object, {"metadata"});
  GovernanceFacts facts;
  facts.unmetered = static_cast<int64_t>(unmetered.size());
  facts.example_pod = unmetered.empty() ? "" : unmetered.begin()->first;
  facts.approval_required = workload.approval_required;
  facts.approvers_listed = !workload.approvers.empty();
  facts.runs_judged = anomalies_.Judged(key);
  if (const std::optional<CostAnomaly> anomaly = anomalies_.Latest(key)) {
    facts.cost_anomaly = anomaly->Describe();
  }
  const json& generation = core::Member(metadata, {"generation"});
  facts.generation = generation.is_number_integer() ? generation.get<int64_t>() : 0;
  const json& previous = core::Member(object, {"status", "conditions"});
  const json desired = WorkloadConditions(
      facts, previous, std::chrono::floor<std::chrono::seconds>(clock_.Now()));
  const std::string version = core::StringField(metadata, "resourceVersion");
  {
    MutexLock lock(mu_);
    if (ConditionsHold(previous, desired)) {
      conditions_written_.erase(key);
      return;
    }
    if (const auto written = conditions_written_.find(key);
        written != conditions_written_.end() && written->second.stale_version == version &&
        ConditionsHold(written->second.conditions, desired)) {
      return;  // written; the cache does not show it yet
    }
  }
  kube::PatchOptions options;
  options.subresource = "status";
  auto patched = client_.Patch(v1alpha1::kAgentWorkloads, workload.namespace_name, workload.name,
                               kube::PatchType::kMerge, {{"status", {{"conditions", desired}}}},
                               options);
  if (!patched.ok()) {
    log::Warn("workload conditions not written; retrying on its next change",
              {{"workload", key}, {"error", patched.error().ToString()}});
    return;
  }
  MutexLock lock(mu_);
  conditions_written_[key] = Written{version, desired};
}

void BackstopController::Forget(const std::string& key) {
  metrics_.SetUnmetered(key, std::nullopt);
  metrics_.ForgetCostAnomalies(key);
  anomalies_.Forget(key);
  MutexLock lock(mu_);
  reported_.erase(key);
  conditions_written_.erase(key);
}

std::vector<std::string> BackstopController::ForJob(const json& job) const {
  return RunsWithoutAdmission(job) ? cache_.GoverningWorkloads(job) : std::vector<std::string>{};
}

std::vector<std::string> BackstopController::ForPod(const json& pod) const {
  return RunsWithoutMeter(pod) ? cache_.GoverningWorkloads(pod) : std::vector<std::string>{};
}

std::vector<std::string> BackstopController::ForNamespace(const json& ns) const {
  return cache_.WorkloadKeysIn(core::StringField(core::Member(ns, {"metadata"}), "name"));
}

std::vector<std::string> BackstopController::ForWorkload(const json& workload) const {
  std::vector<std::string> keys = cache_.WorkloadKeysIn(NamespaceOfObject(workload));
  if (std::string own = kube::ObjectKey(workload); std::ranges::count(keys, own) == 0) {
    keys.push_back(std::move(own));  // once it is deleted
  }
  return keys;
}

size_t BackstopController::reported_pods() const {
  MutexLock lock(mu_);
  size_t pods = 0;
  for (const auto& [workload, uids] : reported_) {
    pods += uids.size();
  }
  return pods;
}

}  // namespace agentbudget::queue
