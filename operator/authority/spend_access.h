#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/result.h"
#include "kube/client.h"
#include "operator/authority/ttl_cache.h"

namespace agentbudget::authority {

// A caller of a spend export, as the API server's TokenReview names it. A value type.
struct SpendReader {
  std::string username;
  std::string uid;
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> extra;
};

// Who may read spend (docs/security.md, "Spend exports"): the Kubernetes API decides. A
// bearer token is proven with a TokenReview (the API server's default audiences: any token
// kubectl or a ServiceAccount holds); whether its user may read the spend of namespace N
// is a SubjectAccessReview of verb `get` on resource `spend` of group `agentbudget.io` in N
// (N = "": every namespace), so RBAC grants it like any namespaced resource.
//
// Answers are cached for `ttl` (default 10 s), tokens by their SHA-256 (at most
// `max_tokens`) and decisions by user and namespace (at most `max_decisions`), least
// recently used first out: a revoked token or binding keeps working at most `ttl`, and
// distinct callers or namespaces cannot grow memory past those bounds. Thread-safe.
class SpendAccess {
 public:
  struct Options {
    std::chrono::seconds ttl{10};
    size_t max_tokens = 1024;
    size_t max_decisions = 4096;
  };

  // `client` and `clock` must outlive this object.
  SpendAccess(kube::Client& client, const Clock& clock, Options options);

  // The reader `token` belongs to. kUnauthenticated when the token is empty, too long or
  // rejected; kUnavailable when the API server cannot be asked.
  Result<SpendReader> Authenticate(const std::string& token) EXCLUDES(mu_);

  // Whether `reader` may get spend.agentbudget.io in `ns` ("" = every namespace).
  // kUnavailable when the API server cannot be asked.
  Result<bool> MayRead(const SpendReader& reader, const std::string& ns) EXCLUDES(mu_);

  // How many tokens and decisions are cached (for tests of the bounds).
  size_t cached_tokens() const EXCLUDES(mu_);
  size_t cached_decisions() const EXCLUDES(mu_);

 private:
  using Digest = std::array<uint8_t, 32>;

  Result<SpendReader> Review(const std::string& token);
  Result<bool> Ask(const SpendReader& reader, const std::string& ns);

  kube::Client& client_;
  const Clock& clock_;
  mutable Mutex mu_;
  TtlCache<Digest, SpendReader> readers_ GUARDED_BY(mu_);
  // Keyed by the reader's identity and the namespace.
  TtlCache<std::string, bool> decisions_ GUARDED_BY(mu_);
};

}  // namespace agentbudget::authority
