#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/mutex.h"
#include "common/result.h"
#include "core/label_selector.h"
#include "api/v1alpha1/agent_workload.h"

namespace agentbudget::webhook {

// What the webhook knows about the cluster between requests: namespace labels and the
// parsed AgentWorkloads of each namespace. Fed by informers (or directly, in tests and
// benchmarks); read on every admission without I/O. Invalid AgentWorkloads are kept out
// (the validating webhook refuses them; a stale invalid one must not break admission).
// Thread-safe: many readers, one writer at a time.
class ClusterCache {
 public:
  using WorkloadList = std::shared_ptr<const std::vector<v1alpha1::Workload>>;

  // Namespace objects (metadata.name, metadata.labels).
  void PutNamespace(const nlohmann::json& ns) EXCLUDES(mu_);
  void RemoveNamespace(const nlohmann::json& ns) EXCLUDES(mu_);
  // AgentWorkload objects. Returns the parse error for an invalid one (which is removed).
  Status PutWorkload(const nlohmann::json& workload) EXCLUDES(mu_);
  void RemoveWorkload(const nlohmann::json& workload) EXCLUDES(mu_);

  // The namespace's labels; kNotFound when it is not (yet) known.
  Result<core::Labels> NamespaceLabels(const std::string& name) const EXCLUDES(mu_);
  // The namespace's workloads, sorted by name; an empty list when none. The list is a
  // snapshot: later changes replace it, never mutate it.
  WorkloadList Workloads(const std::string& namespace_name) const EXCLUDES(mu_);

  size_t namespace_count() const EXCLUDES(mu_);
  size_t workload_count() const EXCLUDES(mu_);

 private:
  mutable SharedMutex mu_;
  std::map<std::string, core::Labels> namespaces_ GUARDED_BY(mu_);
  std::map<std::string, WorkloadList> workloads_ GUARDED_BY(mu_);  // by namespace
};

}  // namespace agentbudget::webhook
