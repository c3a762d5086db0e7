#include "webhook/cluster_cache.h"

#include <algorithm>
#include <utility>

namespace agentbudget::webhook {
namespace {

std::string NameOf(const nlohmann::json& object, const char* field) {
  if (!object.is_object()) {
    return "";
  }
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) {
    return "";
  }
  auto it = meta->find(field);
  return it != meta->end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

void ClusterCache::PutNamespace(const nlohmann::json& ns) {
  const std::string name = NameOf(ns, "name");
  if (name.empty()) {
    return;
  }
  core::Labels labels = v1alpha1::LabelsOf(ns);
  WriterMutexLock lock(mu_);
  namespaces_[name] = std::move(labels);
}

void ClusterCache::RemoveNamespace(const nlohmann::json& ns) {
  WriterMutexLock lock(mu_);
  namespaces_.erase(NameOf(ns, "name"));
}

Status ClusterCache::PutWorkload(const nlohmann::json& object) {
  auto parsed = v1alpha1::ParseWorkload(object);
  if (!parsed.ok()) {
    RemoveWorkload(object);
    return std::move(parsed).error();
  }
  v1alpha1::Workload workload = std::move(parsed).value();
  WriterMutexLock lock(mu_);
  WorkloadList& slot = workloads_[workload.namespace_name];
  auto next = slot ? std::make_shared<std::vector<v1alpha1::Workload>>(*slot)
                   : std::make_shared<std::vector<v1alpha1::Workload>>();
  auto it = std::find_if(next->begin(), next->end(),
                         [&](const v1alpha1::Workload& w) { return w.name == workload.name; });
  if (it != next->end()) {
    *it = std::move(workload);
  } else {
    next->push_back(std::move(workload));
    std::sort(next->begin(), next->end(),
              [](const v1alpha1::Workload& a, const v1alpha1::Workload& b) { return a.name < b.name; });
  }
  slot = std::move(next);
  return OkStatus();
}

void ClusterCache::RemoveWorkload(const nlohmann::json& object) {
  const std::string ns = NameOf(object, "namespace");
  const std::string name = NameOf(object, "name");
  WriterMutexLock lock(mu_);
  auto slot = workloads_.find(ns);
  if (slot == workloads_.end() || !slot->second) {
    return;
  }
  auto next = std::make_shared<std::vector<v1alpha1::Workload>>(*slot->second);
  next->erase(std::remove_if(next->begin(), next->end(),
                             [&](const v1alpha1::Workload& w) { return w.name == name; }),
              next->end());
  if (next->empty()) {
    workloads_.erase(slot);
  } else {
    slot->second = std::move(next);
  }
}

Result<core::Labels> ClusterCache::NamespaceLabels(const std::string& name) const {
  ReaderMutexLock lock(mu_);
  auto it = namespaces_.find(name);
  if (it == namespaces_.end()) {
    return NotFound("namespace " + name + " is not in the cache");
  }
  return it->second;
}

ClusterCache::WorkloadList ClusterCache::Workloads(const std::string& namespace_name) const {
  static const WorkloadList kEmpty = std::make_shared<const std::vector<v1alpha1::Workload>>();
  ReaderMutexLock lock(mu_);
  auto it = workloads_.find(namespace_name);
  return it == workloads_.end() ? kEmpty : it->second;
}

size_t ClusterCache::namespace_count() const {
  ReaderMutexLock lock(mu_);
  return namespaces_.size();
}

size_t ClusterCache::workload_count() const {
  ReaderMutexLock lock(mu_);
  size_t n = 0;
  for (const auto& [ns, list] : workloads_) {
    n += list->size();
  }
  return n;
}

}  // namespace agentbudget::webhook
