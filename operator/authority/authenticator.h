#pragma once

#include <string>

#include "common/result.h"
#include "operator/authority/caller.h"

namespace agentbudget::authority {

// Resolves a meter's bearer token (its pod's projected ServiceAccount token, audience
// `agentbudget`) to the caller: pod → run → workload. Implementations are thread-safe.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // kUnauthenticated: the token is missing, invalid, expired or for another audience.
  // kPermissionDenied: the token is valid but its pod is not a governed agent pod (no run).
  // kUnavailable: the API server could not be asked; the caller may retry.
  virtual Result<Caller> Authenticate(const std::string& token) = 0;
};

}  // namespace agentbudget::authority
