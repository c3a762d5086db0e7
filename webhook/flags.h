#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "webhook/access_policy.h"
#include "webhook/mutation.h"

namespace agentbudget::webhook {

// --operator-users system:serviceaccount:agentbudget-system:agentbudget-operator,
// --job-controller-users system:serviceaccount:kube-system:job-controller,
// system:kube-controller-manager, the others empty.
AccessPolicy DefaultAccessPolicy();

// The agentbudget-webhook command line, read by common/flags.h (--flag=value or --flag
// value). A value type; the initialisers are the defaults.
struct Flags {
  std::string listen_address = "0.0.0.0";
  uint16_t port = 8443;       // 0: any free port (logged)
  std::string tls_cert_file;  // both empty: plain HTTP (local testing only)
  std::string tls_key_file;
  std::string kubeconfig;     // empty: $KUBECONFIG, in-cluster, ~/.kube/config
  size_t max_body_bytes = 3 * 1024 * 1024;  // the API server's own request limit is 3 MiB
  size_t worker_threads = 48;
  std::chrono::milliseconds fanout_deadline{2000};
  std::chrono::milliseconds fanout_grace{5000};
  int64_t kube_qps = 500;
  int kube_burst = 1000;
  std::chrono::seconds sync_timeout{60};
  std::string log_level = "info";
  MeterSettings meter;  // authority_ca is filled from authority_ca_file at each admission
  std::string authority_ca_file;  // "" : meters get no authority CA
  // Defaults: the chart's operator ServiceAccount; the Job controller as kube-controller-
  // manager runs it (with or without per-controller ServiceAccounts); nobody trusted; no
  // pod features.
  AccessPolicy access = DefaultAccessPolicy();
  bool help = false;  // --help: print FlagsHelp() and exit 0; the rest are then defaults
};

// Parses the arguments after the program name. Fails with kInvalidArgument naming the flag
// and the rule it breaks (`--port: port "80x" is not a number in 0..65535`), an unknown
// flag, a missing value, a certificate without a key, a fan-out grace not longer than the
// fan-out deadline, an identity list with an empty or blank item (or an empty
// --operator-users or --job-controller-users), an unknown pod feature.
Result<Flags> ParseFlags(const std::vector<std::string>& args);

// The --help text: every flag with its default.
std::string FlagsHelp();

}  // namespace agentbudget::webhook
