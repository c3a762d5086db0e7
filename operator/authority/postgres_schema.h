#pragma once

#include "common/result.h"
#include "operator/authority/pg_connection.h"

namespace agentbudget::authority {

// The ledger's tables in PostgreSQL, owned by the operator. Schema version 1:
//
//   agentbudget_schema_version (version)   one row per migration applied
//   agentbudget_ledger                     one row per ledger entry: sequence (bigserial,
//       append order), kind ('c' commit, 'e' event), run, idempotency_key (NULL for folded
//       totals), at (seconds since the epoch), folded (LedgerEntry::folded) and entry (the
//       entry as LedgerEntry::ToJson text). Unique on (run, kind, idempotency_key): a key
//       is stored once however often its batch is appended.
//   agentbudget_ledger_writer (epoch)      one row: the epoch of the store that may append
//       (PostgresLedgerStore::TakeOver)
//
// The newest schema version this operator knows.
int LedgerSchemaVersion();

// Brings the schema up to LedgerSchemaVersion() in one transaction (all missing migrations
// or none), serialised against other operators doing the same by a transaction-scoped
// advisory lock. Fails with kFailedPrecondition naming both versions when the database's
// schema is newer than this operator knows (an older operator must not write to it), with
// kUnavailable when the server cannot be reached, kInternal when a migration fails.
Status MigrateLedgerSchema(PgConnection& connection);

}  // namespace agentbudget::authority
