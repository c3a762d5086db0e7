#include "kube/resource.h"

namespace agentbudget::kube {
namespace {

bool Unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_' || c == '.' || c == '~';
}

std::string Escape(std::string_view value, bool allow_colon) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (Unreserved(c) || (allow_colon && c == ':')) {
      out += c;
    } else {
      auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

}  // namespace

std::string GroupVersionResource::ApiPrefix() const {
  return group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
}

std::string GroupVersionResource::CollectionPath(std::string_view ns) const {
  if (!namespaced || ns.empty()) {
    return ApiPrefix() + "/" + resource;
  }
  return ApiPrefix() + "/namespaces/" + PathEscape(ns) + "/" + resource;
}

std::string GroupVersionResource::ObjectPath(std::string_view ns, std::string_view name,
                                             std::string_view subresource) const {
  std::string path = (namespaced ? CollectionPath(ns) : ApiPrefix() + "/" + resource) + "/" +
                     PathEscape(name);
  if (!subresource.empty()) {
    path += "/";
    path += subresource;
  }
  return path;
}

std::string GroupVersionResource::ToString() const {
  return group.empty() ? resource : resource + "." + group;
}

std::string QueryEscape(std::string_view value) { return Escape(value, false); }

std::string PathEscape(std::string_view segment) { return Escape(segment, true); }

std::string ObjectKey(const nlohmann::json& object) {
  if (!object.is_object()) {
    return "";
  }
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) {
    return "";
  }
  auto name = metadata->find("name");
  if (name == metadata->end() || !name->is_string()) {
    return "";
  }
  auto ns = metadata->find("namespace");
  if (ns != metadata->end() && ns->is_string() && !ns->get_ref<const std::string&>().empty()) {
    return ns->get<std::string>() + "/" + name->get<std::string>();
  }
  return name->get<std::string>();
}

std::string ResourceVersionOf(const nlohmann::json& object) {
  if (!object.is_object()) {
    return "";
  }
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) {
    return "";
  }
  auto rv = metadata->find("resourceVersion");
  return rv != metadata->end() && rv->is_string() ? rv->get<std::string>() : "";
}

}  // namespace agentbudget::kube
