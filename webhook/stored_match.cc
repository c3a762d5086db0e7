#include "webhook/stored_match.h"

#include <algorithm>
#include <iterator>
#include <string_view>

namespace agentbudget::webhook {
namespace {

constexpr std::string_view kDefaulted[] = {
    "terminationMessagePath", "terminationMessagePolicy", "protocol", "timeoutSeconds",
    "successThreshold",       "scheme",                   "apiVersion", "defaultMode"};
constexpr std::string_view kNotCompared = "resources";
constexpr std::string_view kTokenMountPrefix = "kube-api-access-";
constexpr std::string_view kTokenMountPath = "/var/run/secrets/kubernetes.io/serviceaccount";

// The ServiceAccount admission plugin's mount of the pod's own API token.
bool IsServiceAccountTokenMount(const nlohmann::json& mount) {
  if (!mount.is_object()) {
    return false;
  }
  auto name = mount.find("name");
  auto path = mount.find("mountPath");
  return name != mount.end() && name->is_string() &&
         name->get<std::string>().starts_with(kTokenMountPrefix) && path != mount.end() &&
         path->is_string() && path->get<std::string>() == kTokenMountPath;
}

// A container port's hostPort equal to its containerPort: what the API server defaults on
// a hostNetwork pod (which the key custody rules judge, not the meter's comparison).
bool IsDefaultedHostPort(const nlohmann::json& port, const std::string& key) {
  auto container_port = port.find("containerPort");
  return key == "hostPort" && container_port != port.end() &&
         *container_port == port.at("hostPort");
}

std::string Shown(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  constexpr size_t kMax = 80;
  return text.size() > kMax ? text.substr(0, kMax) + "..." : text;
}

std::string Difference(const nlohmann::json& stored, const nlohmann::json& built,
                       const std::string& path) {
  const std::string where = path.empty() ? "the value" : path;
  if (built.is_object()) {
    if (!stored.is_object()) {
      return where + " is " + Shown(stored) + ", agentbudget sets an object";
    }
    for (const auto& [key, value] : built.items()) {
      if (key == kNotCompared) {
        continue;
      }
      const std::string member = path.empty() ? key : path + "." + key;
      auto it = stored.find(key);
      if (it == stored.end()) {
        return member + " is missing, agentbudget sets " + Shown(value);
      }
      if (std::string d = Difference(*it, value, member); !d.empty()) {
        return d;
      }
    }
    for (const auto& [key, value] : stored.items()) {
      if (!built.contains(key) && key != kNotCompared &&
          std::find(std::begin(kDefaulted), std::end(kDefaulted), key) == std::end(kDefaulted) &&
          !IsDefaultedHostPort(stored, key)) {
        return (path.empty() ? key : path + "." + key) + " is set to " + Shown(value) +
               ", which agentbudget does not set";
      }
    }
    return "";
  }
  if (built.is_array()) {
    if (!stored.is_array()) {
      return where + " is " + Shown(stored) + ", agentbudget sets " + Shown(built);
    }
    nlohmann::json compared = nlohmann::json::array();
    for (const nlohmann::json& item : stored) {
      if (!(path.ends_with("volumeMounts") && IsServiceAccountTokenMount(item))) {
        compared.push_back(item);
      }
    }
    if (compared.size() != built.size()) {
      return where + " is " + Shown(stored) + ", agentbudget sets " + Shown(built);
    }
    for (size_t i = 0; i < built.size(); ++i) {
      if (std::string d =
              Difference(compared[i], built[i], path + "[" + std::to_string(i) + "]");
          !d.empty()) {
        return d;
      }
    }
    return "";
  }
  if (stored != built) {
    return where + " is " + Shown(stored) + ", agentbudget sets " + Shown(built);
  }
  return "";
}

}  // namespace

std::string StoredDifference(const nlohmann::json& stored, const nlohmann::json& built) {
  return Difference(stored, built, "");
}

}  // namespace agentbudget::webhook
