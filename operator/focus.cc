#include "operator/focus.h"

#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/log.h"
#include "operator/authority/bearer.h"
#include "operator/authority/focus_export.h"

namespace agentbudget::op {
namespace {

// The `namespace` query parameter: nullopt when absent; kInvalidArgument when it is not a
// namespace name (a DNS label).
Result<std::optional<std::string>> NamespaceParameter(const std::string& query) {
  std::optional<std::string> found;
  size_t start = 0;
  while (start < query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) {
      end = query.size();
    }
    const std::string pair = query.substr(start, end - start);
    constexpr std::string_view kName = "namespace=";
    if (pair.starts_with(kName)) {
      found = pair.substr(kName.size());
    }
    start = end + 1;
  }
  if (found) {
    const bool label = !found->empty() && found->size() <= 63 &&
                       found->find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") ==
                           std::string::npos &&
                       found->front() != '-' && found->back() != '-';
    if (!label) {
      return InvalidArgument("namespace: \"" + found->substr(0, 64) +
                             "\" is not a namespace name");
    }
  }
  return found;
}

// The namespaces of the entries an export of [from, to) would show.
std::set<std::string> NamespacesOf(const std::vector<authority::LedgerEntry>& entries,
                                   core::SysSeconds from, core::SysSeconds to) {
  std::set<std::string> namespaces;
  for (const authority::LedgerEntry& entry : entries) {
    if (entry.at >= from && entry.at < to && !entry.IsReport()) {
      namespaces.insert(entry.namespace_name);
    }
  }
  return namespaces;
}

http::Response Csv(std::string body) {
  http::Response response = http::Response::Text(200, std::move(body));
  response.headers["Content-Type"] = "text/csv; charset=utf-8";
  return response;
}

}  // namespace

http::Response ServeFocus(const http::Request& request, authority::LedgerStore& store,
                          authority::SpendAccess& access, const core::RateCard& rates) {
  auto reader = access.Authenticate(authority::BearerToken(request));
  if (!reader.ok()) {
    return http::Response::FromError(reader.error());
  }
  auto range = authority::ParseFocusRange(request.query);
  if (!range.ok()) {
    return http::Response::FromError(range.error());
  }
  auto only = NamespaceParameter(request.query);
  if (!only.ok()) {
    return http::Response::FromError(only.error());
  }
  auto entries = store.Load();
  if (!entries.ok()) {
    return http::Response::FromError(entries.error());
  }
  const auto [from, to] = *range;
  if (!*only) {
    auto everywhere = access.MayRead(*reader, "");
    if (!everywhere.ok()) {
      return http::Response::FromError(everywhere.error());
    }
    if (*everywhere) {
      return Csv(authority::FocusExport(*entries, from, to, rates, core::FocusAccount{}));
    }
  }
  const std::set<std::string> asked =
      *only ? std::set<std::string>{**only} : NamespacesOf(*entries, from, to);
  std::set<std::string> allowed;
  for (const std::string& ns : asked) {
    auto may = access.MayRead(*reader, ns);
    if (!may.ok()) {
      return http::Response::FromError(may.error());
    }
    if (*may) {
      allowed.insert(ns);
    }
  }
  if (allowed.empty()) {
    return http::Response::FromError(MakeError(
        ErrorCode::kPermissionDenied,
        "user \"" + reader->username + "\" may not get spend.agentbudget.io in " +
            (*only ? "namespace " + **only : std::string("any namespace of this export")) +
            ": an admin grants it with a Role or ClusterRole allowing get on resource spend of "
            "group agentbudget.io (the chart's agentbudget-spend-viewer)"));
  }
  std::vector<authority::LedgerEntry> visible;
  for (const authority::LedgerEntry& entry : *entries) {
    if (allowed.contains(entry.namespace_name)) {
      visible.push_back(entry);
    }
  }
  return Csv(authority::FocusExport(visible, from, to, rates, core::FocusAccount{}));
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
