#pragma once

#include <functional>

#include "common/result.h"
#include "operator/authority/ledger_entry.h"
#include "operator/authority/pg_connection.h"

namespace agentbudget::authority {

// The ledger's tables in PostgreSQL, owned by the operator. Schema version 2:
//
//   agentbudget_schema_version (version)   one row per migration applied
//   agentbudget_ledger                     one row per ledger entry: sequence (bigserial,
//       append order), kind ('c' commit, 'e' event), run, idempotency_key (NULL for folded
//       totals), at (seconds since the epoch), folded (LedgerEntry::folded) and entry (the
//       entry as LedgerEntry::ToJson text). Unique on (run, kind, idempotency_key): a key
//       is stored once however often its batch is appended.
//   agentbudget_ledger_writer (epoch)      one row: the epoch of the store that may append
//       (PostgresLedgerStore::TakeOver)
//   agentbudget_ledger_answers             (version 2) one row per commit's or event's key
//       of the idempotency window, raw or folded (AnswerIndex): key (KeyDigestOf, as a
//       signed 64-bit integer), kind, id (the reservation or event id; unique per kind), run,
//       request_hash, answer (LedgerEntry::Response text) and until (seconds since the
//       epoch: the entry's time, or its folded bucket's end; the row is dropped once that
//       is past the idempotency window)
//
// The value of the `kind` columns for entries of `kind`: "c" or "e".
const char* LedgerKindColumn(LedgerEntry::Kind kind);

// The newest schema version this operator knows.
int LedgerSchemaVersion();

// Brings the schema up to LedgerSchemaVersion() in one transaction (all missing migrations
// or none), serialised against other operators doing the same by a transaction-scoped
// advisory lock. Fails with kFailedPrecondition naming both versions when the database's
// schema is newer than this operator knows (an older operator must not write to it), with
// kUnavailable when the server cannot be reached, kInternal when a migration fails.
// `after_step`, when set, runs in the same transaction after each migration, with the
// version it reached (to fill new tables from the old ones); its error fails the whole.
using MigrationStep = std::function<Status(int version)>;
Status MigrateLedgerSchema(PgConnection& connection, const MigrationStep& after_step = {});

}  // namespace agentbudget::authority
