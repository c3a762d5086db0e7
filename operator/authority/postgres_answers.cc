#include "operator/authority/postgres_answers.h"

#include <cstdlib>

#include "operator/authority/ledger_compaction.h"
#include "operator/authority/postgres_rows.h"
#include "operator/authority/postgres_schema.h"

namespace agentbudget::authority {
namespace {

// A 64-bit digest as PostgreSQL's bigint (signed) holds it.
std::string Bigint(uint64_t digest) { return std::to_string(static_cast<int64_t>(digest)); }

std::string Seconds(core::SysSeconds at) { return std::to_string(at.time_since_epoch().count()); }

void AddRow(std::vector<std::optional<std::string>>& values, uint64_t key,
            const LedgerEntry& entry, const std::string& id, uint64_t request_hash,
            const nlohmann::json& answer, core::SysSeconds until) {
  values.emplace_back(Bigint(key));
  values.emplace_back(LedgerKindColumn(entry.kind));
  values.emplace_back(id);
  values.emplace_back(entry.run);
  values.emplace_back(Bigint(request_hash));
  values.emplace_back(answer.dump());
  values.emplace_back(Seconds(until));
}

}  // namespace

Status InsertAnswers(PgConnection& connection, const std::vector<LedgerEntry>& batch) {
  std::vector<std::optional<std::string>> values;
  for (const LedgerEntry& entry : batch) {
    if (entry.folded == 0) {
      AddRow(values, KeyDigestOf(entry.run, entry.kind, entry.idempotency_key), entry, entry.id,
             entry.request_hash, entry.Response(), entry.at);
      continue;
    }
    for (const KeyDigest& digest : entry.digests) {
      AddRow(values, digest.key, entry, digest.id, digest.request_hash, entry.Response(digest),
             entry.at + FoldBucket{1});
    }
  }
  return InsertRows(connection,
                    "INSERT INTO agentbudget_ledger_answers "
                    "(key, kind, id, run, request_hash, answer, until) VALUES ",
                    7, values, "ON CONFLICT DO NOTHING");
}

Result<std::optional<StoredAnswer>> SelectAnswer(PgConnection& connection, uint64_t key) {
  const std::string digest = Bigint(key);
  auto rows = connection.Exec(
      "SELECT request_hash, answer FROM agentbudget_ledger_answers WHERE key = $1::bigint",
      {digest.c_str()});
  if (!rows.ok()) {
    return std::move(rows).error();
  }
  if (rows->size() == 0) {
    return std::optional<StoredAnswer>();
  }
  StoredAnswer stored;
  stored.request_hash = static_cast<uint64_t>(std::strtoll(rows->Text(0, 0), nullptr, 10));
  stored.response = nlohmann::json::parse(rows->Text(0, 1), nullptr, false);
  if (!stored.response.is_object()) {
    return Internal("postgresql: the stored answer of key " + digest + " is not a JSON object");
  }
  return std::optional<StoredAnswer>(std::move(stored));
}

Result<std::optional<std::string>> SelectCommit(PgConnection& connection,
                                                const std::string& id) {
  auto rows = connection.Exec(
      "SELECT run FROM agentbudget_ledger_answers WHERE kind = 'c' AND id = $1", {id.c_str()});
  if (!rows.ok()) {
    return std::move(rows).error();
  }
  if (rows->size() == 0) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(rows->Text(0, 0));
}

Result<size_t> DeleteAnswersBefore(PgConnection& connection, core::SysSeconds after) {
  return DeleteRows(connection, "agentbudget_ledger_answers", "until <= $1::bigint",
                    Seconds(after));
}

}  // namespace agentbudget::authority
