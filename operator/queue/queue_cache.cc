#include "operator/queue/queue_cache.h"

#include <algorithm>
#include <set>

#include "api/v1alpha1/resources.h"
#include "core/json_field.h"
#include "operator/authority/token_review_authenticator.h"
#include "operator/queue/governance.h"

namespace agentbudget::queue {
namespace {

using nlohmann::json;

constexpr char kByWorkload[] = "queue-workload";
constexpr char kByParentRun[] = "queue-parent-run";
constexpr char kByRun[] = "queue-run";
constexpr char kByState[] = "queue-state";
constexpr char kRunning[] = "Running";
// By namespace: Jobs running without an admission, Pods running without the meter.
constexpr char kUnadmitted[] = "queue-unadmitted";
constexpr char kUnmetered[] = "queue-unmetered";

// Jobs are cached without their pod template: the queue never reads it, and it is most of
// a Job's size.
void StripJob(json& job) {
  kube::StripManagedFields(job);
  if (job.contains("spec") && job["spec"].is_object()) {
    job["spec"].erase("template");
  }
}

// A Pod the webhook did not label is of interest only to the backstop: it keeps what
// GoverningWorkload and RunsWithoutMeter read, a fraction of the Pod.
void StripPod(json& pod) {
  kube::StripManagedFields(pod);
  if (v1alpha1::LabelsOf(pod).contains(v1alpha1::keys::kWorkload)) {
    return;
  }
  const json& metadata = core::Member(pod, {"metadata"});
  json skeleton = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", json::object()}};
  for (const char* field : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp",
                            "deletionTimestamp", "labels", "ownerReferences"}) {
    if (metadata.is_object() && metadata.contains(field)) {
      skeleton["metadata"][field] = metadata[field];
    }
  }
  const json& mirror = core::Member(metadata, {"annotations", "kubernetes.io/config.mirror"});
  if (!mirror.is_null()) {
    skeleton["metadata"]["annotations"]["kubernetes.io/config.mirror"] = mirror;
  }
  const json& init = core::Member(pod, {"spec", "initContainers"});
  if (init.is_array()) {
    json names = json::array();
    for (const json& container : init) {
      names.push_back({{"name", core::StringField(container, "name")}});
    }
    skeleton["spec"]["initContainers"] = std::move(names);
  }
  if (const std::string phase = core::StringField(core::Member(pod, {"status"}), "phase");
      !phase.empty()) {
    skeleton["status"]["phase"] = phase;
  }
  pod = std::move(skeleton);
}

kube::InformerOptions Transformed(kube::ObjectTransform transform) {
  kube::InformerOptions options;
  options.transform = std::move(transform);
  return options;
}

// Indexes by namespace the objects for which `predicate` holds.
kube::IndexFunc NamespaceWhere(bool (*predicate)(const json&)) {
  return [predicate](const json& object) -> std::vector<std::string> {
    if (!predicate(object)) {
      return {};
    }
    return {core::StringField(core::Member(object, {"metadata"}), "namespace")};
  };
}

// Indexes governed objects of `kind` by what the queue looks them up by.
void AddIndexes(kube::Informer& informer, QueueObject::Kind kind) {
  auto index = [kind](auto field) -> kube::IndexFunc {
    return [kind, field](const json& object) -> std::vector<std::string> {
      const QueueObject item = ReadQueueObject(object, kind);
      if (item.state == QueueState::kUngoverned || item.workload.empty()) {
        return {};
      }
      std::string value = field(item);
      return value.empty() ? std::vector<std::string>{} : std::vector<std::string>{value};
    };
  };
  informer.AddIndex(kByWorkload, index([](const QueueObject& item) { return item.workload; }));
  informer.AddIndex(kByParentRun, index([](const QueueObject& item) { return item.parent_run; }));
  informer.AddIndex(kByRun, index([](const QueueObject& item) {
                      return item.parent_run.empty() ? item.run : std::string();
                    }));
  informer.AddIndex(kByState, index([](const QueueObject& item) {
                      return std::string(item.state == QueueState::kRunning ? kRunning : "");
                    }));
}

}  // namespace

QueueCache::QueueCache(kube::Manager& manager)
    : jobs_(manager.GetInformer(kube::resources::kJobs, Transformed(StripJob))),
      pods_(manager.GetInformer(kube::resources::kPods, Transformed(StripPod))),
      workloads_(manager.GetInformer(v1alpha1::kAgentWorkloads)),
      budgets_(manager.GetInformer(v1alpha1::kAgentBudgets)),
      namespaces_(manager.GetInformer(kube::resources::kNamespaces)) {
  AddIndexes(jobs_, QueueObject::Kind::kJob);
  AddIndexes(pods_, QueueObject::Kind::kPod);
  jobs_.AddIndex(kUnadmitted, NamespaceWhere(&RunsWithoutAdmission));
  pods_.AddIndex(kUnmetered, NamespaceWhere(&RunsWithoutMeter));
}

Entry QueueCache::Resolve(json object, QueueObject::Kind kind, bool* pending) const {
  Entry entry{ReadQueueObject(object, kind), std::move(object)};
  QueueObject& item = entry.item;
  *pending = false;
  if (const auto written = written_.find(item.key); written != written_.end()) {
    // The cache reflects the write once it holds a version other than the one written over.
    if (written->second.stale_version == item.resource_version) {
      item.state = written->second.state;
      item.annotation = written->second.annotation;
      *pending = true;
    } else {
      written_.erase(written);
    }
  }
  return entry;
}

std::vector<Entry> QueueCache::Read(const std::string& index, const std::string& value) const {
  std::vector<json> jobs = jobs_.store().ByIndex(index, value);
  std::vector<json> pods = pods_.store().ByIndex(index, value);
  std::vector<Entry> entries;
  entries.reserve(jobs.size() + pods.size());
  MutexLock lock(mu_);
  for (auto [objects, kind] : {std::pair{&jobs, QueueObject::Kind::kJob},
                               std::pair{&pods, QueueObject::Kind::kPod}}) {
    for (json& object : *objects) {
      bool pending = false;
      Entry entry = Resolve(std::move(object), kind, &pending);
      if (entry.item.state != QueueState::kUngoverned && !entry.item.workload.empty()) {
        entries.push_back(std::move(entry));
      }
    }
  }
  return entries;
}

std::vector<Entry> QueueCache::OfWorkload(const std::string& workload) const {
  return Read(kByWorkload, workload);
}

std::vector<Entry> QueueCache::OfParentRun(const std::string& run) const {
  return Read(kByParentRun, run);
}

std::vector<Entry> QueueCache::Running() const {
  std::vector<Entry> running = Read(kByState, kRunning);
  std::erase_if(running, [](const Entry& entry) {
    return entry.item.state != QueueState::kRunning;  // a write the cache has not reflected
  });
  return running;
}

std::vector<Entry> QueueCache::RunningWithoutAdmission(const std::string& ns) const {
  std::vector<json> jobs = jobs_.store().ByIndex(kUnadmitted, ns);
  std::vector<Entry> entries;
  MutexLock lock(mu_);
  for (json& job : jobs) {
    bool pending = false;
    Entry entry = Resolve(std::move(job), QueueObject::Kind::kJob, &pending);
    if (!pending) {
      entries.push_back(std::move(entry));
    }
  }
  return entries;
}

std::vector<json> QueueCache::RunningWithoutMeter(const std::string& ns) const {
  return pods_.store().ByIndex(kUnmetered, ns);
}

std::vector<std::string> QueueCache::GoverningWorkloads(const json& object) const {
  const std::string ns = core::StringField(core::Member(object, {"metadata"}), "namespace");
  if (ns.empty() || !OptedIn(Namespace(ns))) {
    return {};
  }
  const std::vector<v1alpha1::Workload> workloads = WorkloadsIn(ns);
  const v1alpha1::Workload* governing = GoverningWorkload(object, workloads);
  if (governing == nullptr) {
    return {};
  }
  return {ns + "/" + governing->name};
}

std::vector<v1alpha1::Workload> QueueCache::WorkloadsIn(const std::string& ns) const {
  std::vector<v1alpha1::Workload> parsed;
  for (const json& object : workloads_.store().ByIndex(kube::kNamespaceIndex, ns)) {
    if (auto workload = v1alpha1::ParseWorkload(object); workload.ok()) {
      parsed.push_back(std::move(workload).value());
    }
  }
  return parsed;
}

std::vector<std::string> QueueCache::WorkloadKeysIn(const std::string& ns) const {
  return workloads_.store().KeysByIndex(kube::kNamespaceIndex, ns);
}

std::string QueueCache::WorkloadOfRun(const std::string& run) const {
  for (const kube::Informer* informer : {&jobs_, &pods_}) {
    for (const json& object : informer->store().ByIndex(kByRun, run)) {
      const auto kind = informer == &jobs_ ? QueueObject::Kind::kJob : QueueObject::Kind::kPod;
      return ReadQueueObject(object, kind).workload;
    }
  }
  return "";
}

std::vector<std::string> QueueCache::WorkloadsSharingCaps(const json& object,
                                                          QueueObject::Kind kind) const {
  const QueueObject item = ReadQueueObject(object, kind);
  std::set<std::string> keys;
  if (!item.workload.empty()) {
    keys.insert(item.workload);
  }
  if (!item.parent_run.empty()) {
    for (const kube::Informer* informer : {&jobs_, &pods_}) {
      for (const std::string& key : informer->store().KeysByIndex(kByParentRun, item.parent_run)) {
        if (auto sibling = informer->store().Get(key)) {
          keys.insert(ReadQueueObject(*sibling, informer == &jobs_ ? QueueObject::Kind::kJob
                                                                   : QueueObject::Kind::kPod)
                          .workload);
        }
      }
    }
  }
  return {keys.begin(), keys.end()};
}

std::optional<v1alpha1::Workload> QueueCache::Workload(const std::string& key) const {
  std::optional<json> object = workloads_.store().Get(key);
  if (!object) {
    return std::nullopt;
  }
  auto parsed = v1alpha1::ParseWorkload(*object);
  if (!parsed.ok()) {
    return std::nullopt;
  }
  return std::move(*parsed);
}

json QueueCache::WorkloadObject(const std::string& key) const {
  return workloads_.store().Get(key).value_or(json());
}

json QueueCache::Namespace(const std::string& name) const {
  return namespaces_.store().Get(name).value_or(json::object());
}

Result<authority::Caller> QueueCache::CallerOf(const Entry& entry) const {
  const QueueObject& item = entry.item;
  const json& metadata = entry.object.contains("metadata") ? entry.object["metadata"] : json();
  json subject = {{"metadata",
                   {{"namespace", item.namespace_name},
                    {"name", item.name},
                    {"labels", metadata.is_object() ? metadata.value("labels", json::object())
                                                    : json::object()},
                    {"annotations", metadata.is_object()
                                        ? metadata.value("annotations", json::object())
                                        : json::object()}}}};
  subject["metadata"]["labels"][v1alpha1::keys::kRun] = item.run;
  return authority::CallerFromObjects(subject, Namespace(item.namespace_name),
                                      WorkloadObject(item.workload));
}

void QueueCache::Remember(const QueueObject& item, QueueState state,
                          std::optional<QueueAnnotation> annotation) {
  MutexLock lock(mu_);
  written_[item.key] = Written{item.kind, item.resource_version, state, std::move(annotation)};
  if (written_.size() >= sweep_at_) {
    Sweep();
    sweep_at_ = std::max(kSweepAt, 2 * written_.size());
  }
}

void QueueCache::Sweep() {
  std::erase_if(written_, [this](const auto& written) {
    const kube::Informer& informer = written.second.kind == QueueObject::Kind::kJob ? jobs_ : pods_;
    return informer.store().ResourceVersion(written.first) != written.second.stale_version;
  });
}

size_t QueueCache::unreflected_writes() const {
  MutexLock lock(mu_);
  return written_.size();
}

void QueueCache::AddAdmitted(const std::string& workload, int64_t count, int64_t status_value) {
  MutexLock lock(mu_);
  int64_t& total = admitted_[workload];
  total = std::max(total, status_value) + count;
}

int64_t QueueCache::Admitted(const std::string& workload, int64_t status_value) const {
  MutexLock lock(mu_);
  const auto found = admitted_.find(workload);
  return std::max(found == admitted_.end() ? int64_t{0} : found->second, status_value);
}

void QueueCache::ForgetWorkload(const std::string& workload) {
  MutexLock lock(mu_);
  admitted_.erase(workload);
}

core::WorkPriority PriorityOf(const QueueObject& item, const v1alpha1::Workload* workload) {
  if (item.priority) {
    return *item.priority;
  }
  if (workload != nullptr) {
    if (auto priority = core::ParseWorkPriority(workload->priority); priority.ok()) {
      return *priority;
    }
  }
  return core::WorkPriority::kStandard;
}

}  // namespace agentbudget::queue
