#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace agentbudget::webhook {

// One request for a subagent slot of a parent run. A value type.
struct FanoutRequest {
  std::string namespace_name;  // the run's namespace
  std::string parent_run;
  int64_t cap = 0;
  bool dry_run = false;
  // The object asking: its kind ("Pod" or "Job"), name and the admission request's UID.
  std::string kind;
  std::string name;
  std::string claim_uid;
  // The parent run's object as an ownerReference ({apiVersion, kind, name, uid}) when it is
  // known, so that the garbage collector removes the count with the run; null otherwise.
  nlohmann::json owner;
  // When the webhook received the admission request: the claim answers within the
  // counter's budget from then, so that the answer reaches the API server before its
  // webhook timeout.
  std::chrono::steady_clock::time_point received;
};

// The outcome of asking for one more subagent slot of a parent run.
struct FanoutClaim {
  bool admitted = false;
  // Subagents counted for the run: including this one when admitted, the count that
  // refused it otherwise.
  int64_t count = 0;
};

// Counts the subagents each parent run has created, atomically across webhook replicas:
// the count must come from one source of truth (never a per-replica cache), so that a burst
// of concurrent creations through several replicas admits exactly `cap`, also when some
// admitted creations then fail in the API server.
// Implementations are thread-safe.
class FanoutCounter {
 public:
  virtual ~FanoutCounter() = default;
  // Takes one slot of `request.parent_run` if fewer than `request.cap` are taken. With
  // `dry_run`, reports what would happen without taking it (no writes). Fails with
  // kUnavailable or kDeadlineExceeded when the source of truth cannot be reached, stays
  // contended, or the budget runs out while slots are still being settled; kInternal when
  // the stored count is corrupt. The caller then denies (a cap that cannot be checked is not
  // enforced by letting work in).
  virtual Result<FanoutClaim> Claim(const FanoutRequest& request) = 0;
};

}  // namespace agentbudget::webhook
