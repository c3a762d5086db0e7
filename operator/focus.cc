#include "operator/focus.h"

#include <iostream>
#include <string>

#include "common/log.h"
#include "operator/authority/focus_export.h"
#include "operator/authority/kube_ledger_store.h"

namespace agentbudget::op {

void AddFocusRoute(http::Router& router, authority::LedgerStore& store) {
  router.Add("GET", "/v1/focus", [&store](const http::Request& request) {
    auto range = authority::ParseFocusRange(request.query);
    if (!range.ok()) {
      return http::Response::FromError(range.error());
    }
    auto entries = store.Load();
    if (!entries.ok()) {
      return http::Response::FromError(entries.error());
    }
    http::Response response = http::Response::Text(
        200,
        authority::FocusExport(*entries, range->first, range->second, core::FocusAccount{}));
    response.headers["Content-Type"] = "text/csv; charset=utf-8";
    return response;
  });
}

int RunFocusExport(kube::Client& client, const Options& options) {
  authority::KubeLedgerStore store(client, options.namespace_name);
  auto entries = store.Load();
  if (!entries.ok()) {
    log::Error("operator failed", {{"error", entries.error().ToString()}});
    return 1;
  }
  std::cout << authority::FocusExport(*entries, options.focus_from, options.focus_to,
                                      core::FocusAccount{});
  return 0;
}

}  // namespace agentbudget::op
