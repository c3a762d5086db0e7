#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace agentbudget::webhook {

// One subagent slot of a parent run: taken by an admission that the validating webhook
// allowed, before the API server stored the object. A value type.
struct FanoutSlot {
  std::string kind;       // "Pod" or "Job"
  std::string name;       // the object's name (validation sees generated names too)
  std::string claim_uid;  // the AdmissionReview request that took the slot
  int64_t claimed_unix_ms = 0;
  // The stored object's UID, once seen: the slot is confirmed and never released, even
  // when the object is later deleted (the cap counts subagents created, not running).
  std::string object_uid;

  // A slot without a name cannot be checked against the API server, so it counts as
  // confirmed from the start (errs towards fewer subagents).
  bool confirmed() const { return !object_uid.empty() || name.empty(); }
};

// An object of the run as the API server has it.
struct StoredObject {
  std::string kind;
  std::string name;
  std::string uid;
};

// Most slots one run's ledger holds: the fan-out counter takes no slot beyond it, whatever a
// workload's maxSubagents (a ConfigMap of this many slots stays well under the API server's
// 1 MiB object limit).
inline constexpr int64_t kMaxFanoutSlots = 10000;

// The slots of a run in claim order, kept in the fan-out ConfigMap's data["slots"] as a JSON
// array of {"kind","name","claim","claimedUnixMs","uid"}.
//
// Parses the ConfigMap. A ConfigMap without data["slots"] has none; slots that are not
// JSON or not of that shape, or more than kMaxFanoutSlots of them, fail with kInternal
// naming the problem (the ConfigMap was written by something else: the count cannot be
// trusted). Never throws.
Result<std::vector<FanoutSlot>> ParseFanoutSlots(const nlohmann::json& config_map);

// The data["slots"] text for `slots`.
std::string EncodeFanoutSlots(const std::vector<FanoutSlot>& slots);

// What Reconcile did.
struct ReconcileOutcome {
  int confirmed = 0;   // pending slots whose object is now seen stored
  int released = 0;    // pending slots dropped: their object was never stored
  int unresolved = 0;  // pending slots still inside their grace period
  bool changed() const { return confirmed > 0 || released > 0; }
};

// Settles the pending slots of `slots` against `stored`, the run's objects as the API server
// has them (objects of kinds without pending slots may be absent). A pending slot is
// confirmed by a stored object of its kind and name whose UID no other slot holds (so an
// object created twice under one name fills one slot, and an earlier object of that name
// confirms the earlier claim). A pending slot that no stored object confirms is released
// once `now_unix_ms` is `grace` past its claim: by then the API server has either stored
// the object or given up on the creation (its webhook timeout and the store are shorter
// than `grace`). Otherwise it stays pending. Confirmed slots are never touched.
ReconcileOutcome ReconcileFanoutSlots(std::vector<FanoutSlot>& slots,
                                      const std::vector<StoredObject>& stored,
                                      int64_t now_unix_ms, std::chrono::milliseconds grace);

}  // namespace agentbudget::webhook
