#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "core/time_zone.h"
#include "operator/authority/answer_index.h"
#include "operator/authority/ledger_entry.h"
#include "operator/authority/pg_connection.h"

namespace agentbudget::authority {

// The rows of agentbudget_ledger_answers (postgres_schema.h): what the PostgreSQL store's
// AnswerIndex reads, kept in step with the ledger's rows. Each function runs its
// statements on `connection` in whatever transaction it is in.

// Inserts the answers of `batch`: a raw entry's own, and a folded entry's for each key
// digest it holds. A key (or a kind and id) already stored is left as it is.
Status InsertAnswers(PgConnection& connection, const std::vector<LedgerEntry>& batch);

// The stored answer to key digest `key`; nullopt when there is none. A row whose answer
// does not parse is reported as kInternal.
Result<std::optional<StoredAnswer>> SelectAnswer(PgConnection& connection, uint64_t key);

// The run that committed reservation `id`; nullopt when no stored commit names it.
Result<std::optional<std::string>> SelectCommit(PgConnection& connection, const std::string& id);

// Deletes the answers whose entry (or folded bucket) ended before `after`: how many.
Result<size_t> DeleteAnswersBefore(PgConnection& connection, core::SysSeconds after);

}  // namespace agentbudget::authority
