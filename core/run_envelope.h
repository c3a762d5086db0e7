#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/money.h"

namespace agentbudget::core {

// The per-run ceilings of an AgentWorkload's `perRun` that the meter can enforce on its own.
// An absent ceiling does not limit.
struct EnvelopeLimits {
  std::optional<Money> max_cost;
  std::optional<int64_t> max_tokens;
  std::optional<int64_t> max_requests;
  std::optional<int64_t> max_identical_requests;
};

// The answer to a reservation against the envelope.
struct EnvelopeDecision {
  bool allowed = false;
  std::string reason;   // for a denial: which ceiling stopped the call, with its numbers
  std::string ceiling;  // for a denial: the ceiling's perRun name, e.g. "maxCost"
};

// A meter that denies a call for a run's maxCost or maxTokens tells the budget authority
// with a zero-cost direct debit of kind kCeilingEventPrefix + the ceiling's name
// ("ceiling:maxCost"), so that a workload with perRun.onCeiling Stop can end the run.
inline constexpr char kCeilingEventPrefix[] = "ceiling:";
// Whether a denial for `ceiling` (an EnvelopeDecision::ceiling) ends a run whose workload
// asks for it: the money and token ceilings do, request counts do not.
inline bool StopsRun(const std::string& ceiling) {
  return ceiling == "maxCost" || ceiling == "maxTokens";
}

// Spend so far against the envelope.
struct EnvelopeTotals {
  Money spent;             // committed cost
  Money reserved;          // estimates of calls in flight
  int64_t tokens = 0;      // committed tokens
  int64_t reserved_tokens = 0;
  int64_t requests = 0;    // calls admitted
};

// A run's envelope, enforced locally: reserve an estimate before a call, then commit the
// actual cost (or release). A call is denied when admitting it would pass a ceiling:
// requests + 1 > maxRequests; more than maxIdenticalRequests calls with the same request
// fingerprint (the retry-loop guard); spent + reserved + estimate > maxCost; likewise for
// tokens. Calls already admitted always commit in full: actual cost is never refused.
// Memory is bounded however long the run: the guard counts calls per fingerprint only when
// maxIdenticalRequests is set, and among the kMaxFingerprints most recently first-seen
// fingerprints (a retry loop repeats a recent one). Not thread-safe: the owner serialises
// calls.
class RunEnvelope {
 public:
  static constexpr size_t kMaxFingerprints = 4096;

  explicit RunEnvelope(EnvelopeLimits limits) : limits_(std::move(limits)) {}

  // Decides on one call. When allowed, the call counts as a request and its estimate is
  // held as reserved until Commit or Release with the same estimate.
  EnvelopeDecision Reserve(uint64_t fingerprint, Money estimate_cost, int64_t estimate_tokens);

  // Replaces a reservation's estimate with the actual cost and tokens.
  void Commit(Money estimate_cost, int64_t estimate_tokens, Money cost, int64_t tokens);

  // Drops a reservation that was never used (the call was not forwarded). The request
  // still counts towards maxRequests and maxIdenticalRequests.
  void Release(Money estimate_cost, int64_t estimate_tokens);

  // Drops a reservation whose call never reached the provider (it could not connect): it
  // no longer counts towards maxRequests. It still counts towards maxIdenticalRequests,
  // whose guard holds no per-call state to undo.
  void ReleaseUnsent(Money estimate_cost, int64_t estimate_tokens);

  // Records spend that did not pass through Reserve (e.g. spooled from a previous process).
  void RecordSpend(Money cost, int64_t tokens);

  // Counts `count` calls admitted elsewhere (e.g. by a previous process) towards
  // maxRequests; nothing is held for them.
  void RecordRequests(int64_t count);

  const EnvelopeTotals& totals() const { return totals_; }
  const EnvelopeLimits& limits() const { return limits_; }
  // Fingerprints the retry-loop guard holds (at most kMaxFingerprints).
  size_t fingerprints() const { return identical_.size(); }

 private:
  EnvelopeLimits limits_;
  EnvelopeTotals totals_;
  std::unordered_map<uint64_t, int64_t> identical_;  // fingerprint → calls admitted
  std::deque<uint64_t> first_seen_;                   // identical_'s keys, oldest first
};

// A 64-bit FNV-1a hash of `bytes`: a stable request fingerprint for the retry-loop guard.
uint64_t Fingerprint(std::string_view bytes);

}  // namespace agentbudget::core
