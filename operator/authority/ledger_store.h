#pragma once

#include <vector>

#include "common/mutex.h"
#include "common/result.h"
#include "operator/authority/answer_index.h"
#include "operator/authority/ledger_entry.h"

namespace agentbudget::authority {

// What LedgerStore::Compact folds: entries recorded before `before`, keeping the key
// digests of folded buckets that end after `keep_digests_after` (FoldEntries). Call with
// `before` past the group commit's latency and `keep_digests_after` the idempotency
// window in the past. Folded totals of buckets that end at or before `retain_from` are
// dropped (RetentionStart, ledger_retention.h, says which the ledger still needs); the
// default keeps every total.
struct CompactOptions {
  core::SysSeconds before;
  core::SysSeconds keep_digests_after;
  core::SysSeconds retain_from = core::SysSeconds::min();
};

// How much a store holds, for metrics, the ceiling's alerts and the sizing guide.
struct StoreUsage {
  int64_t bytes = 0;          // serialized size of what the store holds
  int64_t objects = 0;        // objects (ConfigMaps) or rows holding it
  int64_t ceiling_bytes = 0;  // the most it will ever hold; 0 for none
  int64_t skipped = 0;        // corrupt or foreign objects Load reported and skipped, so far
};

// Where committed spend becomes durable. The authority acknowledges a commit only after
// Append of the batch holding it returned OK, and rebuilds its balances from Load after a
// restart. Implementations are thread-safe.
class LedgerStore {
 public:
  virtual ~LedgerStore() = default;

  // Persists `batch` atomically: on OK every entry is durable, on error none may be
  // relied upon (kResourceExhausted: storing it would pass the store's ceiling) (the caller appends them again; Load must then not return duplicates that
  // differ, and the ledger ignores a second copy of the same idempotency key).
  virtual Status Append(const std::vector<LedgerEntry>& batch) = 0;

  // Every durable entry, in append order. Fails with kUnavailable when the store cannot
  // be read; the authority then does not start serving. A stored object or row that is
  // not a ledger entry (corrupt, or written by something else) is logged, counted in
  // StoreUsage::skipped and left out, never counted as spend.
  virtual Result<std::vector<LedgerEntry>> Load() = 0;

  // Folds stored entries recorded before `options.before` into per-(run, model,
  // attribution, 15-minute bucket) totals (FoldEntries in ledger_compaction.h) so the store
  // grows with runs and time buckets, not with calls. Load afterwards returns the folded
  // totals, then the later entries unchanged: a ledger recovered from it has the same
  // balances, tokens by type and request counts, and answers replays of every key recorded
  // after `options.keep_digests_after`. May run while Append runs. Returns how many stored
  // entries were folded away; on error the store is as before or compacted, never
  // inconsistent.
  virtual Result<size_t> Compact(const CompactOptions& options) = 0;

  // What the store holds now. Thread-safe and cheap (no I/O).
  virtual StoreUsage Usage() const = 0;

  // The store's index of commits' and events' answers when it keeps one (then the ledger
  // keeps only a short recent window of answers in memory and asks the index about older
  // keys); nullptr when it keeps none (the ledger keeps the whole idempotency window).
  // Lives as long as the store.
  virtual AnswerIndex* answer_index() { return nullptr; }
};

// A store in process memory, for unit tests and benchmarks: durable for the life of the
// object. Appends can be made to fail, to test that nothing is acknowledged early.
// Thread-safe.
class InMemoryLedgerStore final : public LedgerStore {
 public:
  Status Append(const std::vector<LedgerEntry>& batch) override EXCLUDES(mu_);
  Result<std::vector<LedgerEntry>> Load() override EXCLUDES(mu_);
  Result<size_t> Compact(const CompactOptions& options) override EXCLUDES(mu_);
  // bytes: the entries' JSON; objects: entries; no ceiling.
  StoreUsage Usage() const override EXCLUDES(mu_);

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
