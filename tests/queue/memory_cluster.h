#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "kube/client.h"
#include "kube/resource.h"
#include "kube/transport.h"

namespace agentbudget::queue::testing {

// An API server in memory behind the client's transport, as much of one as the queue's
// controllers use: LIST and WATCH of a collection (all namespaces or one; selectors and
// paging ignored), GET of an object, merge PATCH (of the object or its status subresource;
// conditional on a metadata.resourceVersion in the patch, 409 Conflict when stale), POST
// and DELETE. Every change bumps one resourceVersion and reaches the open watches in
// order. Tests seed and read objects directly (Put, Remove, Get, List). Thread-safe;
// watches must be cancelled (the manager stopped) before it is destroyed.
class MemoryCluster final : public kube::Transport {
 public:
  Result<kube::HttpResponse> Send(const kube::HttpRequest& request) override EXCLUDES(mu_);
  Result<std::unique_ptr<kube::ResponseStream>> Open(const kube::HttpRequest& request) override
      EXCLUDES(mu_);

  // A client of this cluster (no rate limit). Valid while the cluster is.
  std::unique_ptr<kube::Client> NewClient();

  // Creates or replaces `object` (its metadata.namespace and name), giving it a new
  // resourceVersion, and a uid and creationTimestamp when it has none. Returns it stored.
  nlohmann::json Put(const kube::GroupVersionResource& gvr, nlohmann::json object) EXCLUDES(mu_);
  void Remove(const kube::GroupVersionResource& gvr, const std::string& ns,
              const std::string& name) EXCLUDES(mu_);
  std::optional<nlohmann::json> Get(const kube::GroupVersionResource& gvr, const std::string& ns,
                                    const std::string& name) const EXCLUDES(mu_);
  std::vector<nlohmann::json> List(const kube::GroupVersionResource& gvr) const EXCLUDES(mu_);
  // The PATCH requests clients made, as "PATCH <path>", in order.
  std::vector<std::string> patches() const EXCLUDES(mu_);
  // The current resourceVersion (of the last change).
  int64_t version() const EXCLUDES(mu_);

 private:
  class Stream;
  struct Change {
    int64_t version;
    std::string collection;  // ApiPrefix + "/" + resource
    std::string type;        // ADDED, MODIFIED, DELETED
    nlohmann::json object;
  };
  // A parsed request path.
  struct Target {
    std::string collection;
    std::string ns;
    std::string name;
    std::string subresource;
  };

  static std::optional<Target> Parse(const std::string& path);
  static std::string Collection(const kube::GroupVersionResource& gvr);
  nlohmann::json Store(const std::string& collection, nlohmann::json object, bool created)
      REQUIRES(mu_);
  void Erase(const std::string& collection, const std::string& key) REQUIRES(mu_);

  mutable Mutex mu_;
  CondVar changed_;
  // collection → "namespace/name" (or "name") → object.
  std::map<std::string, std::map<std::string, nlohmann::json>> objects_ GUARDED_BY(mu_);
  std::vector<Change> changes_ GUARDED_BY(mu_);
  std::vector<std::string> patches_ GUARDED_BY(mu_);
  int64_t version_ GUARDED_BY(mu_) = 1;
  int64_t uids_ GUARDED_BY(mu_) = 0;
};

}  // namespace agentbudget::queue::testing
