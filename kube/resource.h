#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace agentbudget::kube {

// Names one kind of object on the API server: any built-in type or CRD. A value type.
struct GroupVersionResource {
  std::string group;     // "" for the core group, "batch", "agentbudget.io", ...
  std::string version;   // "v1", "v1alpha1"
  std::string resource;  // lower-case plural: "pods", "agentbudgets"
  bool namespaced = true;

  // "/api/v1" for the core group, "/apis/<group>/<version>" otherwise.
  std::string ApiPrefix() const;
  // The collection path: ".../namespaces/<ns>/<resource>", or ".../<resource>" when the
  // resource is cluster-scoped or `ns` is empty (all namespaces).
  std::string CollectionPath(std::string_view ns) const;
  // The object path, with "/<subresource>" appended when it is not empty.
  // REQUIRES: !name.empty().
  std::string ObjectPath(std::string_view ns, std::string_view name,
                         std::string_view subresource = "") const;
  // "pods", "agentbudgets.agentbudget.io": for messages and logs.
  std::string ToString() const;
};

// Resources the project's components use. CRDs are described the same way by their users.
namespace resources {
inline const GroupVersionResource kPods{"", "v1", "pods", true};
inline const GroupVersionResource kNamespaces{"", "v1", "namespaces", false};
inline const GroupVersionResource kConfigMaps{"", "v1", "configmaps", true};
inline const GroupVersionResource kSecrets{"", "v1", "secrets", true};
inline const GroupVersionResource kEvents{"", "v1", "events", true};
inline const GroupVersionResource kServiceAccounts{"", "v1", "serviceaccounts", true};
inline const GroupVersionResource kNodes{"", "v1", "nodes", false};
inline const GroupVersionResource kJobs{"batch", "v1", "jobs", true};
inline const GroupVersionResource kLeases{"coordination.k8s.io", "v1", "leases", true};
inline const GroupVersionResource kCustomResourceDefinitions{
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", false};
}  // namespace resources

// Percent-encodes a query parameter value (RFC 3986 unreserved characters pass through).
std::string QueryEscape(std::string_view value);

// Path-escapes one path segment (a name or namespace).
std::string PathEscape(std::string_view segment);

// The cache key of an object: "<namespace>/<name>", or "<name>" when it has no namespace.
// Returns "" when metadata.name is missing.
std::string ObjectKey(const nlohmann::json& object);

// metadata.resourceVersion, or "" when absent.
std::string ResourceVersionOf(const nlohmann::json& object);

}  // namespace agentbudget::kube
