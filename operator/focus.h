#pragma once

#include "common/http_server.h"
#include "kube/client.h"
#include "operator/authority/ledger_store.h"
#include "operator/options.h"

namespace agentbudget::op {

// FOCUS 1.2 CSV of the durable ledger's committed spend (docs/authority.md, "FOCUS export").

// Adds GET /v1/focus?from=&to= to `router`: reads `store` on each request, so it answers on
// followers too. `store` must outlive the router's server.
void AddFocusRoute(http::Router& router, authority::LedgerStore& store);

// The focus-export subcommand: prints the export of [options.focus_from, options.focus_to)
// read with `client` from options.namespace_name. Returns the process's exit code: 0, or 1
// when the ledger cannot be read.
int RunFocusExport(kube::Client& client, const Options& options);

}  // namespace agentbudget::op
