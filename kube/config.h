#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "kube/transport.h"

namespace agentbudget::kube {

// How to reach and authenticate to one API server. A value type.
struct RestConfig {
  TransportConfig transport;
  std::string bearer_token;       // static token; empty: none
  std::string bearer_token_file;  // token re-read whenever the file changes (rotation)
  std::string default_namespace;  // the context's namespace, or the service account's
  std::string source;             // where this came from ("kubeconfig /x, context y")
};

// Reads a kubeconfig file and resolves `context` (empty: current-context). Relative file
// paths inside it are relative to the file's directory; *-data fields are base64.
// Fails with kInvalidArgument (unreadable file, bad YAML, unknown context/cluster/user,
// bad base64, missing server) or kNotFound (no such file); the message names the file,
// the context and the field.
Result<RestConfig> LoadKubeconfig(const std::string& path, std::string_view context = "");

// As LoadKubeconfig, from text. `base_dir` resolves relative paths; `source` names the
// text in messages.
Result<RestConfig> ParseKubeconfig(std::string_view yaml, const std::string& base_dir,
                                   std::string_view context, const std::string& source);

// In-cluster config: KUBERNETES_SERVICE_HOST/PORT and the service account's token, CA and
// namespace under `service_account_dir`. The token is given as a file so that it is
// re-read when the kubelet rotates it. Fails with kFailedPrecondition when not in a
// cluster (variables unset) and kInvalidArgument when a file is missing or unreadable.
Result<RestConfig> InClusterConfig(
    const std::string& service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

// The usual search: $KUBECONFIG (first file), then in-cluster, then ~/.kube/config.
Result<RestConfig> DefaultConfig();

}  // namespace agentbudget::kube
