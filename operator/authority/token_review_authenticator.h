#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

#include "common/clock.h"
#include "common/mutex.h"
#include "kube/client.h"
#include "kube/informer.h"
#include "operator/authority/authenticator.h"
#include "operator/authority/ttl_cache.h"

namespace agentbudget::authority {

// Authenticates meters with the Kubernetes API: a TokenReview (audience `agentbudget`)
// proves the token and names the pod it is bound to (userInfo.extra
// authentication.kubernetes.io/pod-name and pod-uid); the pod's labels name its run and
// workload; the AgentWorkload gives priority, fallback models and perRun limits; the
// Namespace's labels feed namespaceSelectors. A token bound to no pod, a pod whose UID no
// longer matches, or a pod without `agentbudget.io/run` is refused.
//
// Answers are cached for `ttl` (default 60 s) by the SHA-256 of the token, at most
// `max_entries` (LRU), so the API server sees one TokenReview per pod per minute. A token
// revoked within the TTL stays valid until its entry expires. The pod, namespace and
// AgentWorkload are read from informer caches when given, so a cache miss costs one API
// call (the TokenReview); an object a cache does not hold yet (a pod created a moment ago),
// or a cached pod whose UID is not the token's, is read from the API. Thread-safe.
class TokenReviewAuthenticator final : public Authenticator {
 public:
  struct Options {
    std::string audience = "agentbudget";
    std::chrono::seconds ttl{60};
    size_t max_entries = 4096;
    // Informers over governed Pods, Namespaces and AgentWorkloads; null: read the API.
    // They must outlive the authenticator.
    const kube::Informer* pods = nullptr;
    const kube::Informer* namespaces = nullptr;
    const kube::Informer* workloads = nullptr;
  };

  // `client` and `clock` must outlive this object.
  TokenReviewAuthenticator(kube::Client& client, const Clock& clock, Options options);

  Result<Caller> Authenticate(const std::string& token) override EXCLUDES(mu_);

 private:
  using Digest = std::array<uint8_t, 32>;

  Result<Caller> Review(const std::string& token);
  // The object from `cache` (may be null), else from the API.
  Result<nlohmann::json> Read(const kube::Informer* cache, const kube::GroupVersionResource& gvr,
                              const std::string& ns, const std::string& name);

  kube::Client& client_;
  const Clock& clock_;
  const Options options_;
  Mutex mu_;
  TtlCache<Digest, Caller> cache_ GUARDED_BY(mu_);
};

// Builds the caller from a governed pod, its namespace and its AgentWorkload (null when the
// pod names none or it does not exist): its key source is the workload's
// spec.meter.keySource (Authority, else Secret). Pure; kPermissionDenied when the pod
// carries no `agentbudget.io/run` label.
Result<Caller> CallerFromObjects(const nlohmann::json& pod, const nlohmann::json& namespace_object,
                                 const nlohmann::json& workload);

}  // namespace agentbudget::authority
