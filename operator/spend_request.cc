#include "operator/spend_request.h"

#include <optional>
#include <set>
#include <string>

#include "operator/authority/bearer.h"

namespace agentbudget::op {
namespace {

// The `namespace` query parameter: nullopt when absent; kInvalidArgument when it is not a
// namespace name (a DNS label).
Result<std::optional<std::string>> NamespaceParameter(const std::string& query) {
  const std::optional<std::string> found = QueryParameter(query, "namespace");
  if (found) {
    const bool label =
        !found->empty() && found->size() <= 63 &&
        found->find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos &&
        found->front() != '-' && found->back() != '-';
    if (!label) {
      return InvalidArgument("namespace: \"" + found->substr(0, 64) + "\" is not a namespace name");
    }
  }
  return found;
}

// The namespaces of the entries of [from, to) that are spend.
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

}  // namespace

std::optional<std::string> QueryParameter(const std::string& query, std::string_view name) {
  std::optional<std::string> found;
  size_t start = 0;
  while (start < query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) {
      end = query.size();
    }
    const std::string_view pair = std::string_view(query).substr(start, end - start);
    if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
      found = std::string(pair.substr(name.size() + 1));
    }
    start = end + 1;
  }
  return found;
}

Result<VisibleSpend> ReadVisibleSpend(const http::Request& request, authority::LedgerStore& store,
                                      authority::SpendAccess& access, core::SysSeconds from,
                                      core::SysSeconds to) {
  auto reader = access.Authenticate(authority::BearerToken(request));
  if (!reader.ok()) {
    return reader.error();
  }
  auto only = NamespaceParameter(request.query);
  if (!only.ok()) {
    return only.error();
  }
  auto entries = store.Load();
  if (!entries.ok()) {
    return entries.error();
  }
  if (!*only) {
    auto everywhere = access.MayRead(*reader, "");
    if (!everywhere.ok()) {
      return everywhere.error();
    }
    if (*everywhere) {
      return VisibleSpend{std::move(*entries), true};
    }
  }
  const std::set<std::string> asked =
      *only ? std::set<std::string>{**only} : NamespacesOf(*entries, from, to);
  std::set<std::string> allowed;
  for (const std::string& ns : asked) {
    auto may = access.MayRead(*reader, ns);
    if (!may.ok()) {
      return may.error();
    }
    if (*may) {
      allowed.insert(ns);
    }
  }
  if (allowed.empty()) {
    return MakeError(
        ErrorCode::kPermissionDenied,
        "user \"" + reader->username + "\" may not get spend.agentbudget.io in " +
            (*only ? "namespace " + **only : std::string("any namespace of this period")) +
            ": an admin grants it with a Role or ClusterRole allowing get on resource spend of "
            "group agentbudget.io (the chart's agentbudget-spend-viewer)");
  }
  VisibleSpend visible;
  for (authority::LedgerEntry& entry : *entries) {
    if (allowed.contains(entry.namespace_name)) {
      visible.entries.push_back(std::move(entry));
    }
  }
  return visible;
}

}  // namespace agentbudget::op
