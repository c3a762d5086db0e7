#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/http_server.h"
#include "common/result.h"
#include "core/time_zone.h"
#include "operator/authority/ledger_entry.h"
#include "operator/authority/ledger_store.h"
#include "operator/authority/spend_access.h"

namespace agentbudget::op {

// What a spend request (GET /v1/focus, GET /v1/showback) may read of the durable ledger.
struct VisibleSpend {
  // Every entry of the namespaces the reader may read (all of them when `everywhere`), in
  // ledger order; entries outside [from, to) are kept (a caller filters by time).
  std::vector<authority::LedgerEntry> entries;
  bool everywhere = false;  // the reader may get spend.agentbudget.io in every namespace
};

// The raw value of query parameter `name` ("a=1&name=v" → "v"; the last one when
// repeated), or nullopt when absent.
std::optional<std::string> QueryParameter(const std::string& query, std::string_view name);

// Authorizes `request` for the spend committed in [from, to) (docs/security.md, "Spend
// exports"): its bearer token must be one the API server accepts (else kUnauthenticated);
// a reader allowed in every namespace sees every entry, others the entries of the
// namespaces they may get spend.agentbudget.io in — only NS's with the `namespace=NS` query
// parameter — and kPermissionDenied (naming the user and the chart's
// agentbudget-spend-viewer role) when that is none. kInvalidArgument for a malformed
// `namespace`; kUnavailable when the API server or `store` cannot be read.
Result<VisibleSpend> ReadVisibleSpend(const http::Request& request, authority::LedgerStore& store,
                                      authority::SpendAccess& access, core::SysSeconds from,
                                      core::SysSeconds to);

}  // namespace agentbudget::op
