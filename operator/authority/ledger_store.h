#pragma once

#include <vector>

#include "common/mutex.h"
#include "common/result.h"
#include "operator/authority/ledger_entry.h"

namespace agentbudget::authority {

// Where committed spend becomes durable. The authority acknowledges a commit only after
// Append of the batch holding it returned OK, and rebuilds its balances from Load after a
// restart. Implementations are thread-safe.
class LedgerStore {
 public:
  virtual ~LedgerStore() = default;

  // Persists `batch` atomically: on OK every entry is durable, on error none may be
  // relied upon (the caller appends them again; Load must then not return duplicates that
  // differ, and the ledger ignores a second copy of the same idempotency key).
  virtual Status Append(const std::vector<LedgerEntry>& batch) = 0;

  // Every durable entry, in append order. Fails with kUnavailable when the store cannot
  // be read; the authority then does not start serving.
  virtual Result<std::vector<LedgerEntry>> Load() = 0;

  // Folds stored entries recorded before `before` into totals (FoldEntries in
  // ledger_compaction.h) so the store stops growing with settled spend. Load afterwards
  // returns the folded totals, then the later entries unchanged: a ledger recovered from
  // it has the same balances, and answers replays of the later entries' keys. Call with
  // `before` at least the idempotency window in the past. May run while Append runs.
  // Returns how many stored entries were folded away; on error the store is as before
  // or compacted, never inconsistent.
  virtual Result<size_t> Compact(core::SysSeconds before) = 0;
};

// A store in process memory, for unit tests and benchmarks: durable for the life of the
// object. Appends can be made to fail, to test that nothing is acknowledged early.
// Thread-safe.
class InMemoryLedgerStore final : public LedgerStore {
 public:
  Status Append(const std::vector<LedgerEntry>& batch) override EXCLUDES(mu_);
  Result<std::vector<LedgerEntry>> Load() override EXCLUDES(mu_);
  Result<size_t> Compact(core::SysSeconds before) override EXCLUDES(mu_);

  // Makes the next `count` appends fail with kUnavailable.
  void FailNextAppends(int count) EXCLUDES(mu_);
  // Number of successful appends (batches) so far.
  int appends() const EXCLUDES(mu_);

 private:
  mutable Mutex mu_;
  std::vector<LedgerEntry> entries_ GUARDED_BY(mu_);
  int failures_left_ GUARDED_BY(mu_) = 0;
  int appends_ GUARDED_BY(mu_) = 0;
};

}  // namespace agentbudget::authority
