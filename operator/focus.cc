#include "operator/focus.h"

#include <iostream>
#include <string>

#include "common/log.h"
#include "operator/authority/focus_export.h"
#include "operator/spend_request.h"

namespace agentbudget::op {
namespace {

http::Response Csv(std::string body) {
  http::Response response = http::Response::Text(200, std::move(body));
  response.headers["Content-Type"] = "text/csv; charset=utf-8";
  return response;
}

}  // namespace

http::Response ServeFocus(const http::Request& request, authority::LedgerStore& store,
                          authority::SpendAccess& access, const core::RateCard& rates) {
  auto range = authority::ParseFocusRange(request.query);
  if (!range.ok()) {
    return http::Response::FromError(range.error());
  }
  const auto [from, to] = *range;
  auto visible = ReadVisibleSpend(request, store, access, from, to);
  if (!visible.ok()) {
    return http::Response::FromError(visible.error());
  }
  return Csv(authority::FocusExport(visible->entries, from, to, rates, core::FocusAccount{}));
}

void AddFocusRoute(http::Router& router, authority::LedgerStore& store,
                   authority::SpendAccess& access, const core::RateCard& rates) {
  router.Add("GET", "/v1/focus", [&store, &access, &rates](const http::Request& request) {
    return ServeFocus(request, store, access, rates);
  });
}

int RunFocusExport(authority::LedgerStore& store, const core::RateCard& rates,
                   const Options& options) {
  auto entries = store.Load();
  if (!entries.ok()) {
    log::Error("operator failed", {{"error", entries.error().ToString()}});
    return 1;
  }
  std::cout << authority::FocusExport(*entries, options.focus_from, options.focus_to, rates,
                                      core::FocusAccount{});
  return 0;
}

}  // namespace agentbudget::op
