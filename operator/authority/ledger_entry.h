#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "core/label_selector.h"
#include "core/time_zone.h"

namespace agentbudget::authority {

// One envelope a unit of spend was charged to: a budget, and its perKey value when the
// budget has perKey (empty otherwise).
struct Charge {
  std::string budget;
  std::string key;
  bool operator==(const Charge&) const = default;
};

// A durable record of committed spend: a reservation's commit, or a direct debit
// (/v1/events). The ledger is the sequence of these; balances after a restart are rebuilt
// from them, and so are the answers to replayed idempotency keys. A value type.
struct LedgerEntry {
  enum class Kind { kCommit, kEvent };
  Kind kind = Kind::kCommit;
  std::string id;               // the reservation id ("r-…") or event id ("e-…")
  std::string run;              // the run charged
  std::string idempotency_key;  // the client's key, scoped to the run
  uint64_t request_hash = 0;    // fingerprint of the request, for 409 on reuse
  std::string namespace_name;
  core::Labels attribution;     // team, workflow, repo, environment, user, workload, model
  std::string model;
  int64_t cost_micros = 0;
  int64_t tokens = 0;
  bool late = false;            // committed after its reservation expired or was unknown
  core::SysSeconds at;          // when the spend was recorded
  std::vector<Charge> charges;  // every budget envelope it was charged to
  // 0: one commit or debit. N > 0: the total of N older entries folded by compaction
  // (ledger_compaction.h), with no idempotency key or answer of its own.
  int64_t folded = 0;

  // A direct debit of nothing: a report to the ledger (such as a meter's ceiling event,
  // core::kCeilingEventPrefix), not spend, so no charge in exports or spend metrics.
  bool IsReport() const { return kind == Kind::kEvent && cost_micros == 0 && tokens == 0; }

  // The answer sent to the client, the same on every replay.
  nlohmann::json Response() const;

  nlohmann::json ToJson() const;
  // Fails with kInvalidArgument naming the field when `value` is not an entry.
  static Result<LedgerEntry> FromJson(const nlohmann::json& value);
};

}  // namespace agentbudget::authority
