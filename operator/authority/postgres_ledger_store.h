#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "operator/authority/answer_index.h"
#include "operator/authority/ledger_store.h"
#include "operator/authority/pg_connection.h"

namespace agentbudget::authority {

// The durable ledger in PostgreSQL, for fleets that outgrow the Kubernetes API: one row per
// entry in table agentbudget_ledger (schema and migrations: postgres_schema.h).
//
// A single writer. Only the store that called TakeOver() most recently may append or
// compact: TakeOver() advances the epoch in agentbudget_ledger_writer, and every Append and
// Compact checks, in its own transaction and under a share lock on that row, that the epoch
// is still its own. A deposed leader's late append therefore either committed before the
// new leader's TakeOver() returned (and the new leader's Load sees it) or is refused with
// kFailedPrecondition; it is never acknowledged unseen.
//
// Faults: every call has a deadline (Options::timeout, enforced here and as the server's
// statement_timeout); a server that is down, unreachable, stopped or slower than that makes
// the call fail with kUnavailable, and the next call reconnects. A row that does not decode,
// or whose columns disagree with its entry, is reported (logged, and counted by
// skipped_rows()) and skipped, never counted.
//
// Idempotency: every commit's and event's answer is stored with its entry, in the same
// transaction, in agentbudget_ledger_answers (raw entries' and folded entries' key
// digests alike) and kept for the idempotency window (the CompactOptions::keep_digests_after
// the store is compacted with); the store is its ledger's AnswerIndex, so the ledger keeps
// only a short recent window of answers in memory.
//
// Appends go through one connection, reads and compaction through another, and the
// AnswerIndex's lookups through a third, so a long Load or Compact does not stall group
// commit or a replay. Thread-safe.
class PostgresLedgerStore final : public LedgerStore, public AnswerIndex {
 public:
  struct Options {
    // A libpq connection string or URI. It may hold a password: it is never logged.
    std::string conninfo;
    // The longest any one statement, or a connection attempt, may take.
    std::chrono::milliseconds timeout{5000};
  };

  explicit PostgresLedgerStore(Options options);

  // Creates or migrates the schema (MigrateLedgerSchema): kFailedPrecondition when the
  // database's schema is newer than this operator knows. Migrating to version 2 indexes
  // the answers of the entries already stored.
  Status Migrate() EXCLUDES(reader_mu_);

  // Makes this store the only writer (migrating first), fencing off every other store,
  // including earlier instances in this process. Call before Load when becoming leader.
  Status TakeOver() EXCLUDES(writer_mu_, reader_mu_);

  // Inserts the batch and its answers in one transaction, a key already stored being left
  // as it is (ON CONFLICT DO NOTHING). kFailedPrecondition when this store is not (or no longer) the
  // writer; kUnavailable when the server did not confirm the commit (the batch may or may
  // not be stored; appending it again stores each key once).
  Status Append(const std::vector<LedgerEntry>& batch) override EXCLUDES(writer_mu_);

  // Every decodable row: folded totals first, then the entries in append order. Any store
  // may read, writer or not.
  Result<std::vector<LedgerEntry>> Load() override EXCLUDES(reader_mu_);

  // Folds the unfolded rows older than `options.before` into the folded totals of their
  // 15-minute buckets (FoldEntries, keeping the key digests of buckets that end after
  // `options.keep_digests_after`), oldest bucket first, in transactions of at most 10,000
  // unfolded rows each (so the memory and locks of a step stay bounded however much
  // accumulated): an error leaves the steps before it done. Then deletes the answers past
  // `options.keep_digests_after` and the folded rows past `options.retain_from`
  // (retention), vacuums the tables (when anything was folded or deleted) so deleted
  // rows' space is reused, and measures the ledger's table for Usage().
  // kFailedPrecondition when not the writer.
  Result<size_t> Compact(const CompactOptions& options) override EXCLUDES(reader_mu_);

  // As measured by the last Load or Compact: bytes = the table's size with its indexes
  // (pg_total_relation_size), objects = its rows as PostgreSQL's statistics estimate them;
  // no ceiling (the database's own limits apply); skipped = rows Load and Compact reported
  // and skipped so far. No I/O.
  StoreUsage Usage() const override;

  AnswerIndex* answer_index() override { return this; }
  // AnswerIndex: from agentbudget_ledger_answers, on a connection of their own. Any store
  // may read, writer or not; kUnavailable as every call.
  Result<std::optional<StoredAnswer>> FindAnswer(uint64_t key) override EXCLUDES(lookup_mu_);
  Result<std::optional<std::string>> FindCommit(const std::string& id) override
      EXCLUDES(lookup_mu_);

 private:
  struct Row;
  Status CheckWriter(PgConnection& connection);
  Result<std::vector<Row>> Fetch(PgConnection& connection, const std::string& cursor_sql,
                                 const std::vector<const char*>& params);
  Result<std::vector<LedgerEntry>> LoadIn() REQUIRES(reader_mu_);
  // One step of Compact in the open transaction: how many rows it folded away, or nullopt
  // when nothing is left to fold.
  Result<std::optional<size_t>> CompactStep(const CompactOptions& options) REQUIRES(reader_mu_);
  // Deletes, in a transaction of its own, the answers past `options.keep_digests_after`
  // and the folded rows of buckets that end at or before `options.retain_from`.
  struct Dropped {
    size_t rows = 0;     // folded rows
    size_t answers = 0;  // answers
  };
  Result<Dropped> DropPastWindows(const CompactOptions& options) REQUIRES(reader_mu_);
  // Migration to version 2, in its transaction: the answers of every stored entry.
  Status IndexStoredAnswers() REQUIRES(reader_mu_);
  // Reads the table's size and estimated rows into bytes_ and rows_; errors only logged.
  void Measure() REQUIRES(reader_mu_);

  Mutex writer_mu_;
  PgConnection writer_ GUARDED_BY(writer_mu_);
  Mutex reader_mu_;
  PgConnection reader_ GUARDED_BY(reader_mu_);
  Mutex lookup_mu_;
  PgConnection lookup_ GUARDED_BY(lookup_mu_);
  std::atomic<int64_t> epoch_{0};  // 0: not the writer
  std::atomic<int64_t> skipped_rows_{0};
  std::atomic<int64_t> bytes_{0};
  std::atomic<int64_t> rows_{0};
};

// A PostgreSQL ledger store ready to append: migrated and taken over. For benchmarks and
// tools that are the only writer. Fails with the store's error.
Result<std::unique_ptr<PostgresLedgerStore>> OpenPostgresLedgerWriter(
    PostgresLedgerStore::Options options);

}  // namespace agentbudget::authority
