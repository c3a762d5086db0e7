#pragma once

#include <cstdint>
#include <string>
#include <unordered_set>
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

// Tokens of one commit (or of the commits a folded entry holds) by SKU type, as providers
// bill them; their sum is what budgets charge (LedgerEntry::tokens). A value type.
struct TokenCounts {
  int64_t input = 0;  // uncached input
  int64_t cache_read = 0;
  int64_t cache_write_5m = 0;
  int64_t cache_write_1h = 0;
  int64_t output = 0;  // with reasoning
  bool operator==(const TokenCounts&) const = default;
  bool empty() const { return *this == TokenCounts{}; }
  TokenCounts& operator+=(const TokenCounts& other);
};

// What is kept of a folded commit's or event's idempotency key while replays of it may
// still come: the key as a 64-bit digest (KeyDigestOf) and enough to give the first
// answer again. Fixed size however long the client's key. A value type.
struct KeyDigest {
  uint64_t key = 0;
  uint64_t request_hash = 0;
  std::string id;  // the reservation or event id answered (a fixed-length "r-"/"e-" id)
  int64_t cost_micros = 0;
  bool operator==(const KeyDigest&) const = default;
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
  TokenCounts token_types;      // `tokens` by type, when the meter reported usage
  bool late = false;            // committed after its reservation expired or was unknown
  core::SysSeconds at;          // when the spend was recorded
  std::vector<Charge> charges;  // every budget envelope it was charged to
  // 0: one commit or debit. N > 0: the total of N older entries folded by compaction
  // (ledger_compaction.h), with no idempotency key or answer of its own.
  int64_t folded = 0;
  // Only when folded: the keys of the folded commits or events still inside the
  // idempotency window, so that a ledger recovered from it answers their replays.
  std::vector<KeyDigest> digests;

  // A direct debit of nothing: a report to the ledger (such as a meter's ceiling event,
  // core::kCeilingEventPrefix), not spend, so no charge in exports or spend metrics.
  bool IsReport() const { return kind == Kind::kEvent && cost_micros == 0 && tokens == 0; }

  // The answer sent to the client, the same on every replay.
  nlohmann::json Response() const;
  // The answer to the folded key `digest` of this folded entry.
  nlohmann::json Response(const KeyDigest& digest) const;

  nlohmann::json ToJson() const;
  // Fails with kInvalidArgument naming the field when `value` is not an entry.
  static Result<LedgerEntry> FromJson(const nlohmann::json& value);
};

// Which stored entries count: a key stored twice (a batch appended twice, or a raw copy of
// a key a folded entry already holds as a digest) counts once. Feed entries in ledger
// order. Memory: one digest per key seen. Not thread-safe.
class FirstCopies {
 public:
  // True when `entry` counts: always for a folded entry (whose digests are remembered),
  // for a raw entry when its key was not seen before.
  bool Counts(const LedgerEntry& entry);

 private:
  std::unordered_set<uint64_t> seen_;
};

// The digest of idempotency key `key` of `run` for commits or events (FNV-1a, 64 bits: two
// keys of one window collide with odds below 1e-9 at a million keys).
uint64_t KeyDigestOf(const std::string& run, LedgerEntry::Kind kind, const std::string& key);

}  // namespace agentbudget::authority
