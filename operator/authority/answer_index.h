#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace agentbudget::authority {

// A commit's or event's answer as a store keeps it next to the entry.
struct StoredAnswer {
  uint64_t request_hash = 0;
  nlohmann::json response;  // LedgerEntry::Response(), exactly as first given
};

// What a store that indexes its own entries can tell the ledger about idempotency, so the
// ledger need not keep every answer of the idempotency window in memory. The store keeps
// the answer of every commit and event it holds (raw or folded with its key digest) for
// the idempotency window (the CompactOptions::keep_digests_after it is compacted with), in
// the same transaction as the entry. Implementations are thread-safe; calls do I/O.
class AnswerIndex {
 public:
  virtual ~AnswerIndex() = default;

  // The stored answer to the commit or event key with digest `key` (KeyDigestOf); nullopt
  // when the store holds none. kUnavailable when the store cannot be asked (the caller must
  // not take the key for new).
  virtual Result<std::optional<StoredAnswer>> FindAnswer(uint64_t key) = 0;

  // The run that committed reservation `id`; nullopt when no stored commit names it.
  // kUnavailable as above.
  virtual Result<std::optional<std::string>> FindCommit(const std::string& id) = 0;
};

}  // namespace agentbudget::authority
