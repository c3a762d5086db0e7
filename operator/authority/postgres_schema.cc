#include "operator/authority/postgres_schema.h"

#include <string>
#include <vector>

namespace agentbudget::authority {
namespace {

// Migration i (0-based) brings the schema from version i to version i + 1. Append only:
// a released migration never changes.
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> migrations = {
      R"sql(
CREATE TABLE agentbudget_ledger (
  sequence bigserial PRIMARY KEY,
  kind char(1) NOT NULL CHECK (kind IN ('c', 'e')),
  run text NOT NULL,
  idempotency_key text,
  at bigint NOT NULL,
  folded bigint NOT NULL DEFAULT 0,
  entry text NOT NULL
);
CREATE UNIQUE INDEX agentbudget_ledger_key ON agentbudget_ledger (run, kind, idempotency_key);
CREATE INDEX agentbudget_ledger_unfolded ON agentbudget_ledger (at) WHERE folded = 0;
CREATE INDEX agentbudget_ledger_totals ON agentbudget_ledger (at) WHERE folded > 0;
CREATE TABLE agentbudget_ledger_writer (
  single boolean PRIMARY KEY DEFAULT true CHECK (single),
  epoch bigint NOT NULL
);
INSERT INTO agentbudget_ledger_writer (epoch) VALUES (0);
)sql",
      R"sql(
CREATE TABLE agentbudget_ledger_answers (
  key bigint PRIMARY KEY,
  kind char(1) NOT NULL CHECK (kind IN ('c', 'e')),
  id text NOT NULL,
  run text NOT NULL,
  request_hash bigint NOT NULL,
  answer text NOT NULL,
  until bigint NOT NULL
);
CREATE UNIQUE INDEX agentbudget_ledger_answers_id ON agentbudget_ledger_answers (kind, id);
CREATE INDEX agentbudget_ledger_answers_until ON agentbudget_ledger_answers (until);
)sql",
  };
  return migrations;
}

// An arbitrary constant naming the migration lock among the database's advisory locks.
constexpr const char* kMigrationLock = "4242017001";

Status Migrate(PgConnection& connection, const MigrationStep& after_step) {
  if (auto locked = connection.Exec(std::string("SELECT pg_advisory_xact_lock(") +
                                    kMigrationLock + ")");
      !locked.ok()) {
    return std::move(locked).error();
  }
  if (Status created = connection.ExecScript(
          "CREATE TABLE IF NOT EXISTS agentbudget_schema_version (version integer NOT NULL)");
      !created.ok()) {
    return created;
  }
  auto current =
      connection.Exec("SELECT coalesce(max(version), 0) FROM agentbudget_schema_version");
  if (!current.ok()) {
    return std::move(current).error();
  }
  const int version = std::atoi(current->Text(0, 0));
  const int known = LedgerSchemaVersion();
  if (version > known) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "the PostgreSQL ledger has schema version " + std::to_string(version) +
                         ", newer than this operator knows (" +
                         std::to_string(known) +
                         "): run an operator release that knows it");
  }
  for (int next = version; next < known; ++next) {
    if (Status applied = connection.ExecScript(Migrations()[static_cast<size_t>(next)]);
        !applied.ok()) {
      Error error = std::move(applied).error();
      error.message = "ledger schema migration to version " + std::to_string(next + 1) +
                      " failed: " + error.message;
      return error;
    }
    if (after_step) {
      if (Status stepped = after_step(next + 1); !stepped.ok()) {
        return stepped;
      }
    }
    const std::string recorded = std::to_string(next + 1);
    if (auto inserted = connection.Exec(
            "INSERT INTO agentbudget_schema_version (version) VALUES ($1)", {recorded.c_str()});
        !inserted.ok()) {
      return std::move(inserted).error();
    }
  }
  return OkStatus();
}

}  // namespace

const char* LedgerKindColumn(LedgerEntry::Kind kind) {
  return kind == LedgerEntry::Kind::kCommit ? "c" : "e";
}

int LedgerSchemaVersion() { return static_cast<int>(Migrations().size()); }

Status MigrateLedgerSchema(PgConnection& connection, const MigrationStep& after_step) {
  if (Status begun = connection.ExecScript("BEGIN"); !begun.ok()) {
    return begun;
  }
  Status migrated = Migrate(connection, after_step);
  if (!migrated.ok()) {
    connection.Reset();  // the server rolls the transaction back
    return migrated;
  }
  return connection.ExecScript("COMMIT");
}

}  // namespace agentbudget::authority
