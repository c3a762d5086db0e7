#include "kube/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/base64.h"

namespace agentbudget::kube {
namespace {

// Certificates, keys, tokens and kubeconfigs are small: a bound keeps a path such as
// /dev/zero from hanging or exhausting the process.
constexpr std::size_t kMaxFileBytes = 4u << 20;

Result<std::string> ReadFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return InvalidArgument(what + ": cannot read file '" + path + "'");
  }
  std::string out;
  char buffer[65536];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    out.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (out.size() > kMaxFileBytes) {
      return InvalidArgument(what + ": file '" + path + "' is larger than 4 MiB");
    }
  }
  return out;
}

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path.front() == '/' || base_dir.empty()) {
    return path;
  }
  return (std::filesystem::path(base_dir) / path).string();
}

// Finds the entry named `name` in a kubeconfig list (clusters, users, contexts) and
// returns its inner map (entry[field]).
Result<YAML::Node> FindNamed(const YAML::Node& root, const char* list, const char* field,
                             const std::string& name, const std::string& where) {
  const YAML::Node entries = root[list];
  if (entries && entries.IsSequence()) {
    for (const YAML::Node& entry : entries) {
      if (entry.IsMap() && entry["name"] && entry["name"].as<std::string>("") == name) {
        YAML::Node inner = entry[field];
        if (!inner || !inner.IsMap()) {
          return InvalidArgument(where + ": " + list + " entry '" + name + "' has no '" +
                                 field + "' map");
        }
        return inner;
      }
    }
  }
  return InvalidArgument(where + ": no " + std::string(field) + " named '" + name + "' in '" +
                         list + "'");
}

// Reads `<key>-data` (base64) or `<key>` (a file path) into `out`.
Status DataOrFile(const YAML::Node& map, const std::string& key, const std::string& base_dir,
                  const std::string& where, std::string* out) {
  if (YAML::Node data = map[key + "-data"]; data) {
    // Line breaks are dropped first, as client-go's decoder does: a hand-edited kubeconfig
    // may wrap long values.
    std::string text = data.as<std::string>("");
    std::erase_if(text, [](char c) { return c == '\n' || c == '\r'; });
    Result<std::string> decoded = base64::Decode(text);
    if (!decoded.ok()) {
      return InvalidArgument(where + ": field '" + key + "-data' is not valid " +
                             decoded.error().message);
    }
    *out = std::move(decoded).value();
    return OkStatus();
  }
  if (YAML::Node file = map[key]; file) {
    Result<std::string> contents =
        ReadFile(Resolve(base_dir, file.as<std::string>("")), where + ": field '" + key + "'");
    if (!contents.ok()) {
      return std::move(contents).error();
    }
    *out = std::move(contents).value();
  }
  return OkStatus();
}

}  // namespace

Result<RestConfig> ParseKubeconfig(std::string_view yaml, const std::string& base_dir,
                                   std::string_view context, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return InvalidArgument("kubeconfig " + source + ": not valid YAML: " + e.what());
  }
  if (!root.IsMap()) {
    return InvalidArgument("kubeconfig " + source + ": top level is not a map");
  }
  try {
    std::string context_name(context);
    if (context_name.empty()) {
      context_name = root["current-context"].as<std::string>("");
      if (context_name.empty()) {
        return InvalidArgument("kubeconfig " + source +
                               ": no context given and 'current-context' is not set");
      }
    }
    std::string where = "kubeconfig " + source + ", context '" + context_name + "'";
    Result<YAML::Node> ctx = FindNamed(root, "contexts", "context", context_name, where);
    if (!ctx.ok()) {
      return std::move(ctx).error();
    }
    std::string cluster_name = (*ctx)["cluster"].as<std::string>("");
    std::string user_name = (*ctx)["user"].as<std::string>("");
    RestConfig config;
    config.source = where;
    config.default_namespace = (*ctx)["namespace"].as<std::string>("default");

    Result<YAML::Node> cluster = FindNamed(root, "clusters", "cluster", cluster_name, where);
    if (!cluster.ok()) {
      return std::move(cluster).error();
    }
    config.transport.server = (*cluster)["server"].as<std::string>("");
    if (config.transport.server.empty()) {
      return InvalidArgument(where + ": cluster '" + cluster_name + "' has no 'server'");
    }
    config.transport.tls_server_name = (*cluster)["tls-server-name"].as<std::string>("");
    config.transport.insecure_skip_tls_verify =
        (*cluster)["insecure-skip-tls-verify"].as<bool>(false);
    if (Status s = DataOrFile(*cluster, "certificate-authority", base_dir,
                              where + ", cluster '" + cluster_name + "'", &config.transport.ca_pem);
        !s.ok()) {
      return std::move(s).error();
    }

    if (!user_name.empty()) {
      Result<YAML::Node> user = FindNamed(root, "users", "user", user_name, where);
      if (!user.ok()) {
        return std::move(user).error();
      }
      std::string user_where = where + ", user '" + user_name + "'";
      if (Status s = DataOrFile(*user, "client-certificate", base_dir, user_where,
                                &config.transport.client_cert_pem);
          !s.ok()) {
        return std::move(s).error();
      }
      if (Status s = DataOrFile(*user, "client-key", base_dir, user_where,
                                &config.transport.client_key_pem);
          !s.ok()) {
        return std::move(s).error();
      }
      if (config.transport.client_cert_pem.empty() != config.transport.client_key_pem.empty()) {
        return InvalidArgument(user_where + ": client certificate and client key must be given together");
      }
      config.bearer_token = (*user)["token"].as<std::string>("");
      if (YAML::Node file = (*user)["tokenFile"]; file) {
        config.bearer_token_file = Resolve(base_dir, file.as<std::string>(""));
      }
    }
    return config;
  } catch (const YAML::Exception& e) {
    return InvalidArgument("kubeconfig " + source + ": unexpected structure: " + e.what());
  }
}

Result<RestConfig> LoadKubeconfig(const std::string& path, std::string_view context) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return NotFound("kubeconfig '" + path + "' does not exist");
  }
  Result<std::string> text = ReadFile(path, "kubeconfig");
  if (!text.ok()) {
    return std::move(text).error();
  }
  return ParseKubeconfig(*text, std::filesystem::path(path).parent_path().string(), context,
                         "'" + path + "'");
}

Result<RestConfig> InClusterConfig(const std::string& service_account_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || port == nullptr || *host == '\0' || *port == '\0') {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "not running in a cluster: KUBERNETES_SERVICE_HOST and "
                     "KUBERNETES_SERVICE_PORT must be set");
  }
  RestConfig config;
  config.source = "in-cluster";
  std::string h(host);
  // An IPv6 service address needs brackets in a URL.
  if (h.find(':') != std::string::npos) {
    h = "[" + h + "]";
  }
  config.transport.server = "https://" + h + ":" + port;
  config.bearer_token_file = service_account_dir + "/token";
  if (Result<std::string> token = ReadFile(config.bearer_token_file, "in-cluster token");
      !token.ok()) {
    return std::move(token).error();
  }
  Result<std::string> ca = ReadFile(service_account_dir + "/ca.crt", "in-cluster CA");
  if (!ca.ok()) {
    return std::move(ca).error();
  }
  config.transport.ca_pem = std::move(ca).value();
  Result<std::string> ns = ReadFile(service_account_dir + "/namespace", "in-cluster namespace");
  config.default_namespace = ns.ok() ? *ns : "default";
  return config;
}

Result<RestConfig> DefaultConfig() {
  if (const char* env = std::getenv("KUBECONFIG"); env != nullptr && *env != '\0') {
    std::string first(env);
    first = first.substr(0, first.find(':'));
    return LoadKubeconfig(first);
  }
  Result<RestConfig> in_cluster = InClusterConfig();
  if (in_cluster.ok() || in_cluster.error().code != ErrorCode::kFailedPrecondition) {
    return in_cluster;
  }
  const char* home = std::getenv("HOME");
  if (home == nullptr) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "no Kubernetes config: KUBECONFIG unset, not in a cluster, HOME unset");
  }
  return LoadKubeconfig(std::string(home) + "/.kube/config");
}

}  // namespace agentbudget::kube
