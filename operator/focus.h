#pragma once

#include "common/http_server.h"
#include "core/rate_card.h"
#include "kube/client.h"
#include "operator/authority/ledger_store.h"
#include "operator/authority/spend_access.h"
#include "operator/options.h"

namespace agentbudget::op {

// FOCUS 1.2 CSV of the durable ledger's committed spend (docs/authority.md, "FOCUS export").

// GET /v1/focus?from=&to=[&namespace=NS], answered for readers `access` lets in
// (docs/security.md, "Spend exports"): 401 without a bearer token the API server accepts;
// otherwise the rows of the namespaces the reader may get spend.agentbudget.io in — every
// row for a reader allowed in every namespace, only NS's with `namespace` — and 403 when
// that is none of them. 400 for a malformed query, 503 when the API server or the ledger
// cannot be read. Reads `store` on each request, so it answers on followers too. Prices
// SKUs by `rates` (authority::FocusExport).
http::Response ServeFocus(const http::Request& request, authority::LedgerStore& store,
                          authority::SpendAccess& access, const core::RateCard& rates);

// Adds GET /v1/focus (ServeFocus) to `router`. `store`, `access` and `rates` must outlive
// the router's server.
void AddFocusRoute(http::Router& router, authority::LedgerStore& store,
                   authority::SpendAccess& access, const core::RateCard& rates);

// The focus-export subcommand: prints the export of [options.focus_from, options.focus_to)
// read from `store` (on the Kubernetes API with the kubeconfig's identity, which reads the
// ledger's ConfigMaps directly, or in PostgreSQL), priced by `rates`. Returns the process's
// exit code: 0, or 1 when the ledger cannot be read.
int RunFocusExport(authority::LedgerStore& store, const core::RateCard& rates,
                   const Options& options);

}  // namespace agentbudget::op
