#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace agentbudget::webhook {

// The outcome of asking for one more subagent slot of a parent run.
struct FanoutClaim {
  bool admitted = false;
  // Subagents counted for the run: including this one when admitted, the count that
  // refused it otherwise.
  int64_t count = 0;
};

// Counts the subagents each parent run has created, atomically across webhook replicas:
// the count must come from one source of truth (never a per-replica cache), so that a burst
// of concurrent creations through several replicas admits exactly `cap`.
// Implementations are thread-safe.
class FanoutCounter {
 public:
  virtual ~FanoutCounter() = default;
  // Takes one slot of `parent_run` (in namespace `ns`) if fewer than `cap` are taken.
  // With `dry_run`, reports what would happen without taking it. Fails with kUnavailable or
  // kDeadlineExceeded when the source of truth cannot be reached or stays contended; the
  // caller then denies (a cap that cannot be checked is not enforced by letting work in).
  virtual Result<FanoutClaim> Claim(const std::string& ns, const std::string& parent_run,
                                    int64_t cap, bool dry_run) = 0;
};

}  // namespace agentbudget::webhook
