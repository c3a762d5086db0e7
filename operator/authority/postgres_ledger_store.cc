#include "operator/authority/postgres_ledger_store.h"

#include <algorithm>
#include <optional>

#include "common/log.h"
#include "operator/authority/ledger_compaction.h"
#include "operator/authority/postgres_answers.h"
#include "operator/authority/postgres_rows.h"
#include "operator/authority/postgres_schema.h"

namespace agentbudget::authority {
namespace {

// Rows per FETCH from a cursor (bounds the memory of one answer).
constexpr const char* kFetch = "FETCH 5000 FROM agentbudget_rows";
// Unfolded rows folded per transaction: bounds the memory and the locks of one step.
constexpr size_t kRowsPerCompaction = 10000;

// The idempotency key column: the key as a JSON string (PostgreSQL text holds no NUL,
// a client's key may), or NULL for folded totals, which answer no key.
std::optional<std::string> KeyColumn(const LedgerEntry& entry) {
  if (entry.folded > 0) {
    return std::nullopt;
  }
  return nlohmann::json(entry.idempotency_key).dump();
}

// Ends the transaction `connection` is in: commits it when `outcome` is OK, else drops the
// connection (the server rolls the transaction back). Returns the first failure.
Status Finish(PgConnection& connection, const Status& outcome) {
  if (!outcome.ok()) {
    connection.Reset();
    return outcome;
  }
  return connection.ExecScript("COMMIT");
}

// Inserts `batch`, leaving keys already stored as they are.
Status InsertEntries(PgConnection& connection, const std::vector<LedgerEntry>& batch) {
  std::vector<std::optional<std::string>> values;
  values.reserve(batch.size() * 6);
  for (const LedgerEntry& entry : batch) {
    values.emplace_back(LedgerKindColumn(entry.kind));
    values.emplace_back(entry.run);
    values.push_back(KeyColumn(entry));
    values.emplace_back(std::to_string(entry.at.time_since_epoch().count()));
    values.emplace_back(std::to_string(entry.folded));
    values.emplace_back(entry.ToJson().dump());
  }
  return InsertRows(
      connection,
      "INSERT INTO agentbudget_ledger (kind, run, idempotency_key, at, folded, entry) VALUES ",
      6, values, "ON CONFLICT (run, kind, idempotency_key) DO NOTHING");
}

// Deletes the folded rows of buckets that end at or before `retain_from`: how many.
Result<size_t> DeleteFoldedBefore(PgConnection& connection, core::SysSeconds retain_from) {
  // A folded row is stamped with its bucket's start: it ends at or before `retain_from`
  // when it starts a bucket or more before it.
  const std::string last_start = std::to_string(
      (retain_from - std::chrono::seconds(FoldBucket(1))).time_since_epoch().count());
  return DeleteRows(connection, "agentbudget_ledger", "folded > 0 AND at <= $1::bigint",
                    last_start);
}

}  // namespace

// One row as read back, and the entry it decodes to (when it does).
struct PostgresLedgerStore::Row {
  std::string sequence;
  std::optional<LedgerEntry> entry;
};

PostgresLedgerStore::PostgresLedgerStore(Options options)
    : writer_(options.conninfo, options.timeout),
      reader_(options.conninfo, options.timeout),
      lookup_(options.conninfo, options.timeout) {}

Status PostgresLedgerStore::Migrate() {
  MutexLock lock(reader_mu_);
  return MigrateLedgerSchema(reader_, [this](int version) REQUIRES(reader_mu_) {
    // Version 2 adds the answers: fill them from the entries already stored.
    return version == 2 ? IndexStoredAnswers() : OkStatus();
  });
}

Status PostgresLedgerStore::IndexStoredAnswers() {
  auto rows = Fetch(reader_, "SELECT sequence, kind, run, idempotency_key, entry FROM "
                             "agentbudget_ledger ORDER BY sequence", {});
  if (!rows.ok()) {
    return std::move(rows).error();
  }
  std::vector<LedgerEntry> entries;
  for (Row& row : *rows) {
    if (row.entry) {
      entries.push_back(std::move(*row.entry));
    }
  }
  return InsertAnswers(reader_, entries);
}

Status PostgresLedgerStore::TakeOver() {
  if (Status migrated = Migrate(); !migrated.ok()) {
    return migrated;
  }
  MutexLock lock(writer_mu_);
  // Waits for the appends of the previous writer that hold the row; every later one sees
  // the new epoch and is refused.
  auto taken = writer_.Exec(
      "UPDATE agentbudget_ledger_writer SET epoch = epoch + 1 RETURNING epoch");
  if (!taken.ok()) {
    return std::move(taken).error();
  }
  if (taken->size() != 1) {
    return Internal("postgresql: table agentbudget_ledger_writer does not hold its one row");
  }
  epoch_ = std::atoll(taken->Text(0, 0));
  log::Info("took over the PostgreSQL ledger", {{"epoch", epoch_.load()}});
  return OkStatus();
}

Status PostgresLedgerStore::CheckWriter(PgConnection& connection) {
  const int64_t mine = epoch_;
  if (mine == 0) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "this PostgreSQL ledger store has not taken over the ledger");
  }
  auto current = connection.Exec("SELECT epoch FROM agentbudget_ledger_writer FOR SHARE");
  if (!current.ok()) {
    return std::move(current).error();
  }
  const int64_t epoch = current->size() == 1 ? std::atoll(current->Text(0, 0)) : 0;
  if (epoch != mine) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "another authority took over the PostgreSQL ledger (epoch " +
                         std::to_string(epoch) + ", this one " + std::to_string(mine) +
                         "): appends from here are refused");
  }
  return OkStatus();
}

Status PostgresLedgerStore::Append(const std::vector<LedgerEntry>& batch) {
  MutexLock lock(writer_mu_);
  if (Status begun = writer_.ExecScript("BEGIN"); !begun.ok()) {
    return begun;
  }
  Status appended = CheckWriter(writer_);
  if (appended.ok()) {
    appended = InsertEntries(writer_, batch);
  }
  if (appended.ok()) {
    appended = InsertAnswers(writer_, batch);
  }
  return Finish(writer_, appended);
}

Result<std::vector<PostgresLedgerStore::Row>> PostgresLedgerStore::Fetch(
    PgConnection& connection, const std::string& cursor_sql,
    const std::vector<const char*>& params) {
  if (auto declared =
          connection.Exec("DECLARE agentbudget_rows NO SCROLL CURSOR FOR " + cursor_sql, params);
      !declared.ok()) {
    return std::move(declared).error();
  }
  std::vector<Row> rows;
  while (true) {
    auto fetched = connection.Exec(kFetch);
    if (!fetched.ok()) {
      return std::move(fetched).error();
    }
    if (fetched->size() == 0) {
      break;
    }
    // Columns: sequence, kind, run, idempotency_key, entry.
    for (int i = 0; i < fetched->size(); ++i) {
      Row row{fetched->Text(i, 0), std::nullopt};
      auto entry = LedgerEntry::FromJson(nlohmann::json::parse(fetched->Text(i, 4), nullptr, false));
      std::string problem;
      if (!entry.ok()) {
        problem = entry.error().message;
      } else if (std::string(fetched->Text(i, 1)) != LedgerKindColumn(entry->kind) ||
                 fetched->Text(i, 2) != entry->run ||
                 (fetched->IsNull(i, 3) ? std::optional<std::string>()
                                        : std::optional<std::string>(fetched->Text(i, 3))) !=
                     KeyColumn(*entry)) {
        problem = "its kind, run or idempotency_key column disagrees with its entry";
      }
      if (problem.empty()) {
        row.entry = std::move(*entry);
      } else {
        ++skipped_rows_;
        log::Error("skipping a PostgreSQL ledger row that is not a ledger entry of ours",
                   {{"sequence", row.sequence}, {"error", problem}});
      }
      rows.push_back(std::move(row));
    }
  }
  if (Status closed = connection.ExecScript("CLOSE agentbudget_rows"); !closed.ok()) {
    return std::move(closed).error();
  }
  return rows;
}

Result<std::vector<LedgerEntry>> PostgresLedgerStore::Load() {
  MutexLock lock(reader_mu_);
  if (Status begun = reader_.ExecScript("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      !begun.ok()) {
    return std::move(begun).error();
  }
  auto entries = LoadIn();
  if (Status finished = Finish(reader_, entries.ok() ? OkStatus() : Status(entries.error()));
      !finished.ok()) {
    return std::move(finished).error();
  }
  Measure();
  return entries;
}

Result<std::vector<LedgerEntry>> PostgresLedgerStore::LoadIn() {
  auto rows = Fetch(reader_,
                    "SELECT sequence, kind, run, idempotency_key, entry FROM agentbudget_ledger "
                    "ORDER BY folded = 0, sequence",
                    {});
  if (!rows.ok()) {
    return std::move(rows).error();
  }
  std::vector<LedgerEntry> entries;
  entries.reserve(rows->size());
  for (Row& row : *rows) {
    if (row.entry) {
      entries.push_back(std::move(*row.entry));
    }
  }
  return entries;
}

Result<std::optional<size_t>> PostgresLedgerStore::CompactStep(const CompactOptions& options) {
  const core::SysSeconds before = options.before;
  if (Status writer = CheckWriter(reader_); !writer.ok()) {
    return std::move(writer).error();
  }
  // The oldest bucket holding settled rows not folded yet.
  const std::string cutoff = std::to_string(before.time_since_epoch().count());
  auto oldest = reader_.Exec(
      "SELECT min(at) FROM agentbudget_ledger WHERE folded = 0 AND at < $1::bigint",
      {cutoff.c_str()});
  if (!oldest.ok()) {
    return std::move(oldest).error();
  }
  if (oldest->IsNull(0, 0)) {
    return std::optional<size_t>();
  }
  const int64_t bucket_seconds = std::chrono::seconds(FoldBucket(1)).count();
  const int64_t at = std::atoll(oldest->Text(0, 0));
  const int64_t start = at - ((at % bucket_seconds) + bucket_seconds) % bucket_seconds;
  const std::string from = std::to_string(start);
  const std::string until = std::to_string(
      std::min<int64_t>(start + bucket_seconds, before.time_since_epoch().count()));
  const std::string limit = std::to_string(kRowsPerCompaction);
  // The bucket's folded totals (stamped with its start) and its oldest unfolded rows.
  auto rows = Fetch(
      reader_,
      "SELECT sequence, kind, run, idempotency_key, entry FROM agentbudget_ledger "
      "WHERE (folded > 0 AND at = $1::bigint) OR sequence IN (SELECT sequence FROM "
      "agentbudget_ledger WHERE folded = 0 AND at >= $1::bigint AND at < $2::bigint "
      "ORDER BY sequence LIMIT $3::bigint) ORDER BY sequence FOR UPDATE",
      {from.c_str(), until.c_str(), limit.c_str()});
  if (!rows.ok()) {
    return std::move(rows).error();
  }
  std::vector<LedgerEntry> settled;
  std::string sequences = "{";
  for (Row& row : *rows) {
    if (!row.entry) {
      continue;  // reported by Fetch; left where it is
    }
    sequences += (settled.empty() ? "" : ",") + row.sequence;
    settled.push_back(std::move(*row.entry));
  }
  sequences += "}";
  if (settled.empty()) {
    // Only rows that do not decode are left there: they stay, reported, never folded.
    return std::optional<size_t>();
  }
  const std::vector<LedgerEntry> folded = FoldEntries(settled, options.keep_digests_after);
  if (auto deleted = reader_.Exec(
          "DELETE FROM agentbudget_ledger WHERE sequence = ANY($1::bigint[])", {sequences.c_str()});
      !deleted.ok()) {
    return std::move(deleted).error();
  }
  if (Status inserted = InsertEntries(reader_, folded); !inserted.ok()) {
    return std::move(inserted).error();
  }
  return std::optional<size_t>(settled.size() - folded.size());
}

Result<size_t> PostgresLedgerStore::Compact(const CompactOptions& options) {
  MutexLock lock(reader_mu_);
  size_t total = 0;
  while (true) {
    if (Status begun = reader_.ExecScript("BEGIN"); !begun.ok()) {
      return std::move(begun).error();
    }
    auto step = CompactStep(options);
    if (Status finished = Finish(reader_, step.ok() ? OkStatus() : Status(step.error()));
        !finished.ok()) {
      return std::move(finished).error();
    }
    if (!step->has_value()) {
      auto dropped = DropPastWindows(options);
      if (!dropped.ok()) {
        return std::move(dropped).error();
      }
      total += dropped->rows;
      if (total > 0 || dropped->answers > 0) {
        // Makes the deleted rows' space reusable (and refreshes the row estimate) now
        // rather than when autovacuum gets to it, so the tables stay the size of what they
        // hold. Not in a transaction; a failure only delays that.
        if (Status vacuumed = reader_.ExecScript(
                "VACUUM (ANALYZE) agentbudget_ledger, agentbudget_ledger_answers");
            !vacuumed.ok()) {
          log::Warn("cannot vacuum the PostgreSQL ledger", {{"error", vacuumed.error().ToString()}});
        }
      }
      Measure();
      return total;
    }
    total += **step;
  }
}

Result<PostgresLedgerStore::Dropped> PostgresLedgerStore::DropPastWindows(
    const CompactOptions& options) {
  if (Status begun = reader_.ExecScript("BEGIN"); !begun.ok()) {
    return std::move(begun).error();
  }
  Dropped dropped;
  Status outcome = CheckWriter(reader_);
  if (outcome.ok()) {
    auto answers = DeleteAnswersBefore(reader_, options.keep_digests_after);
    outcome = answers.ok() ? OkStatus() : Status(std::move(answers).error());
    dropped.answers = answers.ok() ? *answers : 0;
  }
  if (outcome.ok() && options.retain_from != core::SysSeconds::min()) {
    auto rows = DeleteFoldedBefore(reader_, options.retain_from);
    outcome = rows.ok() ? OkStatus() : Status(std::move(rows).error());
    dropped.rows = rows.ok() ? *rows : 0;
  }
  if (Status finished = Finish(reader_, outcome); !finished.ok()) {
    return std::move(finished).error();
  }
  return dropped;
}

void PostgresLedgerStore::Measure() {
  auto measured = reader_.Exec(
      "SELECT pg_total_relation_size(oid), greatest(reltuples, 0)::bigint FROM pg_class "
      "WHERE oid = 'agentbudget_ledger'::regclass");
  if (!measured.ok() || measured->size() != 1) {
    log::Warn("cannot measure the PostgreSQL ledger",
              {{"error", measured.ok() ? "no row" : measured.error().ToString()}});
    return;
  }
  bytes_ = std::atoll(measured->Text(0, 0));
  rows_ = std::atoll(measured->Text(0, 1));
}

Result<std::optional<StoredAnswer>> PostgresLedgerStore::FindAnswer(uint64_t key) {
  MutexLock lock(lookup_mu_);
  return SelectAnswer(lookup_, key);
}

Result<std::optional<std::string>> PostgresLedgerStore::FindCommit(const std::string& id) {
  MutexLock lock(lookup_mu_);
  return SelectCommit(lookup_, id);
}

StoreUsage PostgresLedgerStore::Usage() const {
  StoreUsage usage;
  usage.bytes = bytes_;
  usage.objects = rows_;
  usage.skipped = skipped_rows_;
  return usage;
}

Result<std::unique_ptr<PostgresLedgerStore>> OpenPostgresLedgerWriter(
    PostgresLedgerStore::Options options) {
  auto store = std::make_unique<PostgresLedgerStore>(std::move(options));
  if (Status taken = store->TakeOver(); !taken.ok()) {
    return std::move(taken).error();
  }
  return store;
}

}  // namespace agentbudget::authority
