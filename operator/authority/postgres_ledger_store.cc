#include "operator/authority/postgres_ledger_store.h"

#include <algorithm>
#include <optional>

#include "common/log.h"
#include "operator/authority/ledger_compaction.h"
#include "operator/authority/postgres_schema.h"

namespace agentbudget::authority {
namespace {

// Rows per multi-row INSERT (six parameters each, far below PostgreSQL's 65,535) and per
// FETCH from a cursor (bounds the memory of one answer).
constexpr size_t kRowsPerInsert = 1000;
constexpr const char* kFetch = "FETCH 5000 FROM agentbudget_rows";
// Unfolded rows folded per transaction: bounds the memory and the locks of one step.
constexpr size_t kRowsPerCompaction = 10000;

const char* KindColumn(LedgerEntry::Kind kind) { return kind == LedgerEntry::Kind::kCommit ? "c" : "e"; }

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

// Inserts `batch` in multi-row INSERTs, leaving keys already stored as they are.
Status InsertEntries(PgConnection& connection, const std::vector<LedgerEntry>& batch) {
  for (size_t begin = 0; begin < batch.size(); begin += kRowsPerInsert) {
    const size_t end = std::min(batch.size(), begin + kRowsPerInsert);
    // Every parameter's text first, then pointers into it (the vector no longer grows).
    std::vector<std::optional<std::string>> texts;
    texts.reserve((end - begin) * 6);
    std::string sql =
        "INSERT INTO agentbudget_ledger (kind, run, idempotency_key, at, folded, entry) VALUES ";
    for (size_t i = begin; i < end; ++i) {
      const LedgerEntry& entry = batch[i];
      const size_t first = texts.size() + 1;
      sql += i == begin ? "(" : ",(";
      for (size_t column = 0; column < 6; ++column) {
        sql += (column == 0 ? "$" : ",$") + std::to_string(first + column);
      }
      sql += ")";
      texts.emplace_back(KindColumn(entry.kind));
      texts.emplace_back(entry.run);
      texts.push_back(KeyColumn(entry));
      texts.emplace_back(std::to_string(entry.at.time_since_epoch().count()));
      texts.emplace_back(std::to_string(entry.folded));
      texts.emplace_back(entry.ToJson().dump());
    }
    sql += " ON CONFLICT (run, kind, idempotency_key) DO NOTHING";
    std::vector<const char*> params;
    params.reserve(texts.size());
    for (const auto& text : texts) {
      params.push_back(text ? text->c_str() : nullptr);
    }
    if (auto inserted = connection.Exec(sql, params); !inserted.ok()) {
      return std::move(inserted).error();
    }
  }
  return OkStatus();
}

}  // namespace

// One row as read back, and the entry it decodes to (when it does).
struct PostgresLedgerStore::Row {
  std::string sequence;
  std::optional<LedgerEntry> entry;
};

PostgresLedgerStore::PostgresLedgerStore(Options options)
    : writer_(options.conninfo, options.timeout), reader_(options.conninfo, options.timeout) {}

Status PostgresLedgerStore::Migrate() {
  MutexLock lock(reader_mu_);
  return MigrateLedgerSchema(reader_);
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
      } else if (std::string(fetched->Text(i, 1)) != KindColumn(entry->kind) ||
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
      auto dropped = DropPastRetention(options.retain_from);
      if (!dropped.ok()) {
        return std::move(dropped).error();
      }
      total += *dropped;
      if (total > 0) {
        // Makes the deleted rows' space reusable (and refreshes the row estimate) now
        // rather than when autovacuum gets to it, so the table stays the size of what it
        // holds. Not in a transaction; a failure only delays that.
        if (Status vacuumed = reader_.ExecScript("VACUUM (ANALYZE) agentbudget_ledger");
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

Result<size_t> PostgresLedgerStore::DropPastRetention(core::SysSeconds retain_from) {
  if (retain_from == core::SysSeconds::min()) {
    return size_t{0};
  }
  if (Status begun = reader_.ExecScript("BEGIN"); !begun.ok()) {
    return std::move(begun).error();
  }
  // A folded row is stamped with its bucket's start: it ends at or before `retain_from`
  // when it starts a bucket or more before it.
  const std::string last_start = std::to_string(
      (retain_from - std::chrono::seconds(FoldBucket(1))).time_since_epoch().count());
  Result<size_t> dropped = size_t{0};
  if (Status writer = CheckWriter(reader_); !writer.ok()) {
    dropped = std::move(writer).error();
  } else if (auto deleted = reader_.Exec(
                 "WITH gone AS (DELETE FROM agentbudget_ledger WHERE folded > 0 AND "
                 "at <= $1::bigint RETURNING 1) SELECT count(*) FROM gone",
                 {last_start.c_str()});
             !deleted.ok()) {
    dropped = std::move(deleted).error();
  } else {
    dropped = static_cast<size_t>(std::atoll(deleted->Text(0, 0)));
  }
  if (Status finished = Finish(reader_, dropped.ok() ? OkStatus() : Status(dropped.error()));
      !finished.ok()) {
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
