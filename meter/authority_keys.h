#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/result.h"
#include "meter/authority_client.h"
#include "meter/provider_keys.h"

namespace agentbudget::meter {

// Key source Authority: the provider keys never live in the tenant's namespace; the meter
// asks the budget authority for them (GET /v1/credentials, with the pod's bound token over
// TLS) at start, and again when a call finds no key or the provider refused the key (401,
// e.g. after a rotation), at most once per `refetch_interval`. Both providers are held:
// the agent's own credentials never pass. Keys live in memory only and are never logged.
// Thread-safe; a fetch runs on the calling thread, outside the lock, one at a time.
class AuthorityKeys final : public ProviderKeys {
 public:
  struct Options {
    std::chrono::seconds refetch_interval{60};
  };

  // `authority` and `clock` must outlive this object.
  AuthorityKeys(AuthorityClient& authority, const Clock& clock, Options options);

  // Fetches the keys now, whatever the interval (for the start). On failure the keys held
  // so far are kept and the authority's error is returned: kPermissionDenied when the pod's
  // workload does not keep its keys in the authority, kUnavailable (retry) otherwise.
  Status Fetch() EXCLUDES(mu_);

  bool Holds(core::Api) const override { return true; }
  // The key held for `api`'s provider; when there is none, first fetches if one is due.
  std::string Key(core::Api api) override EXCLUDES(mu_);
  // Fetches again if one is due.
  void Rejected(core::Api api) override EXCLUDES(mu_);

 private:
  // Fetches unless another fetch runs or the last began within the interval.
  void FetchIfDue() EXCLUDES(mu_);
  std::string KeyLocked(core::Api api) const REQUIRES(mu_);

  AuthorityClient& authority_;
  const Clock& clock_;
  const Options options_;
  mutable Mutex mu_;
  ProviderCredentials keys_ GUARDED_BY(mu_);
  bool fetching_ GUARDED_BY(mu_) = false;
  std::optional<std::chrono::steady_clock::time_point> last_fetch_ GUARDED_BY(mu_);
};

}  // namespace agentbudget::meter
