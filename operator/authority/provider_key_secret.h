#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/result.h"
#include "kube/client.h"

namespace agentbudget::authority {

// The provider keys a meter gets from GET /v1/credentials; "" for a provider without one.
// Never logged.
struct ProviderKeys {
  std::string anthropic_api_key;
  std::string openai_api_key;
};

// Custody of the provider keys in the install namespace (key source Authority): Secret
// `name` in `namespace_name`, keys `anthropic-api-key` and `openai-api-key`, read by name
// (RBAC: get on that one Secret) and cached for `ttl`, so a rotated Secret is served within
// the TTL and the API server sees one read per TTL whatever the number of meters. The
// keys never leave this object but in Keys()'s answer; nothing here logs them.
// Thread-safe.
class ProviderKeySecret {
 public:
  struct Options {
    std::string namespace_name = "agentbudget-system";
    std::string name = "agentbudget-provider-keys";
    std::chrono::seconds ttl{30};
  };

  // `client` and `clock` must outlive this object.
  ProviderKeySecret(kube::Client& client, const Clock& clock, Options options);

  // The keys. kUnavailable (retry later) when the Secret does not exist, holds neither
  // key, or cannot be read; the message names the Secret and how to create it.
  Result<ProviderKeys> Keys() EXCLUDES(mu_);

 private:
  kube::Client& client_;
  const Clock& clock_;
  const Options options_;
  Mutex mu_;
  std::optional<ProviderKeys> cached_ GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point expires_ GUARDED_BY(mu_);
};

}  // namespace agentbudget::authority
