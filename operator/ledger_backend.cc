#include "operator/ledger_backend.h"

#include <fstream>
#include <sstream>

#include "common/log.h"
#include "operator/authority/kube_ledger_store.h"
#include "operator/authority/postgres_ledger_store.h"

namespace agentbudget::op {
namespace {

// The connection string in `path`, without surrounding whitespace.
Result<std::string> ReadDsn(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  if (!file) {
    return InvalidArgument("--postgres-dsn-file: cannot read " + path);
  }
  std::string dsn = text.str();
  const size_t first = dsn.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) {
    return InvalidArgument("--postgres-dsn-file: " + path + " is empty");
  }
  dsn.erase(dsn.find_last_not_of(" \t\r\n") + 1);
  return dsn.substr(first);
}

Result<std::unique_ptr<authority::PostgresLedgerStore>> OpenPostgres(const Options& options) {
  auto dsn = ReadDsn(options.postgres_dsn_file);
  if (!dsn.ok()) {
    return std::move(dsn).error();
  }
  return std::make_unique<authority::PostgresLedgerStore>(
      authority::PostgresLedgerStore::Options{*std::move(dsn), options.postgres_timeout});
}

}  // namespace

Result<LedgerBackend> OpenLedgerBackend(const Options& options, kube::Client& client) {
  if (options.ledger_store != "postgres") {
    return LedgerBackend{
        std::make_unique<authority::KubeLedgerStore>(
            client, options.namespace_name,
            authority::KubeLedgerStore::Options{options.ledger_ceiling_bytes}),
        [] { return OkStatus(); }};
  }
  auto store = OpenPostgres(options);
  if (!store.ok()) {
    return std::move(store).error();
  }
  if (Status migrated = (*store)->Migrate(); !migrated.ok()) {
    if (migrated.error().code != ErrorCode::kUnavailable) {
      return std::move(migrated).error();
    }
    log::Warn("cannot reach PostgreSQL to migrate the ledger schema; the leader retries",
              {{"error", migrated.error().ToString()}});
  }
  authority::PostgresLedgerStore& postgres = **store;
  return LedgerBackend{std::unique_ptr<authority::LedgerStore>(std::move(*store)),
                       [&postgres] { return postgres.TakeOver(); }};
}

int RunLedgerMigration(kube::Client& client, const Options& options) {
  auto fail = [](const Error& error) {
    log::Error("ledger migration failed", {{"error", error.ToString()}});
    return 1;
  };
  auto postgres = OpenPostgres(options);
  if (!postgres.ok()) {
    return fail(postgres.error());
  }
  authority::KubeLedgerStore kube_store(client, options.namespace_name,
                                        {options.ledger_ceiling_bytes});
  auto entries = kube_store.Load();
  if (!entries.ok()) {
    return fail(entries.error());
  }
  if (Status taken = (*postgres)->TakeOver(); !taken.ok()) {
    return fail(taken.error());
  }
  auto present = (*postgres)->Load();
  if (!present.ok()) {
    return fail(present.error());
  }
  if (!present->empty() || (*postgres)->Usage().skipped > 0) {
    return fail(MakeError(ErrorCode::kFailedPrecondition,
                          "the PostgreSQL ledger already holds entries: migrate-ledger copies "
                          "into an empty ledger only, so that no spend is counted twice"));
  }
  if (Status appended = (*postgres)->Append(*entries); !appended.ok()) {
    return fail(appended.error());
  }
  log::Info("ledger migrated to PostgreSQL", {{"entries", entries->size()}});
  return 0;
}

}  // namespace agentbudget::op
