#include "operator/queue/queue_cache.h"

#include <algorithm>
#include <set>

#include "api/v1alpha1/resources.h"
#include "operator/authority/token_review_authenticator.h"

namespace agentbudget::queue {
namespace {

using nlohmann::json;

constexpr char kByWorkload[] = "queue-workload";
constexpr char kByParentRun[] = "queue-parent-run";
constexpr char kByRun[] = "queue-run";
constexpr char kByState[] = "queue-state";
constexpr char kRunning[] = "Running";

// Jobs are cached without their pod template: the queue never reads it, and it is most of
// a Job's size.
void StripJob(json& job) {
  kube::StripManagedFields(job);
  if (job.contains("spec") && job["spec"].is_object()) {
    job["spec"].erase("template");
  }
}

kube::InformerOptions Governed(kube::ObjectTransform transform) {
  kube::InformerOptions options;
  options.reflector.label_selector = v1alpha1::keys::kWorkload;
  options.transform = std::move(transform);
  return options;
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
    : jobs_(manager.GetInformer(kube::resources::kJobs, Governed(StripJob))),
      pods_(manager.GetInformer(kube::resources::kPods, Governed(kube::StripManagedFields))),
      workloads_(manager.GetInformer(v1alpha1::kAgentWorkloads)),
      budgets_(manager.GetInformer(v1alpha1::kAgentBudgets)),
      namespaces_(manager.GetInformer(kube::resources::kNamespaces)) {
  AddIndexes(jobs_, QueueObject::Kind::kJob);
  AddIndexes(pods_, QueueObject::Kind::kPod);
}

std::optional<Entry> QueueCache::ReadOne(json object, QueueObject::Kind kind) const {
  Entry entry{ReadQueueObject(object, kind), std::move(object)};
  QueueObject& item = entry.item;
  if (const auto written = written_.find(item.key); written != written_.end()) {
    // The cache reflects the write once it holds a version other than the one written over.
    if (written->second.stale_version == item.resource_version) {
      item.state = written->second.state;
      item.annotation = written->second.annotation;
    } else {
      written_.erase(written);
    }
  }
  if (item.state == QueueState::kUngoverned || item.workload.empty()) {
    return std::nullopt;
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
      if (std::optional<Entry> entry = ReadOne(std::move(object), kind)) {
        entries.push_back(std::move(*entry));
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
  written_[item.key] = Written{item.resource_version, state, std::move(annotation)};
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
