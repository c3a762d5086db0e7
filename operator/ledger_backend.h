#pragma once

#include <functional>
#include <memory>

#include "common/result.h"
#include "kube/client.h"
#include "operator/authority/ledger_store.h"
#include "operator/options.h"

namespace agentbudget::op {

// The durable ledger the operator was told to use (--ledger-store).
struct LedgerBackend {
  std::unique_ptr<authority::LedgerStore> store;
  // Run by a new leader before it reads the ledger back: makes this replica the only one
  // that may append (PostgresLedgerStore::TakeOver; nothing to do on the Kubernetes API,
  // where only the lease holder writes).
  std::function<Status()> take_over;
};

// Opens the store: for postgres, reads the connection string from --postgres-dsn-file
// (kInvalidArgument naming the file, never quoting it, when it cannot be read or is empty)
// and migrates the schema. A newer schema than this operator knows is kFailedPrecondition:
// the operator must not start. A server that cannot be reached now is only logged; the
// leader migrates again in take_over before it serves. `client` must outlive the result.
Result<LedgerBackend> OpenLedgerBackend(const Options& options, kube::Client& client);

// The migrate-ledger subcommand: loads the ledger from the Kubernetes API (namespace
// options.namespace_name), takes over the PostgreSQL ledger and appends every entry in one
// transaction. Refuses a PostgreSQL ledger that already holds entries, so that it never
// counts spend twice; run it with the operator stopped. Returns the exit code.
int RunLedgerMigration(kube::Client& client, const Options& options);

}  // namespace agentbudget::op
