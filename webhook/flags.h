#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "webhook/mutation.h"

namespace agentbudget::webhook {

// The agentbudget-webhook command line. A value type.
struct Flags {
  std::string listen_address = "0.0.0.0";
  uint16_t port = 8443;
  std::string tls_cert_file;  // both empty: plain HTTP (local testing only)
  std::string tls_key_file;
  std::string kubeconfig;     // empty: $KUBECONFIG, in-cluster, ~/.kube/config
  size_t max_body_bytes = 3 * 1024 * 1024;  // the API server's own request limit is 3 MiB
  size_t worker_threads = 48;
  int64_t fanout_deadline_ms = 2000;
  int64_t fanout_grace_ms = 5000;
  double kube_qps = 500;
  int kube_burst = 1000;
  int64_t sync_timeout_seconds = 60;
  std::string log_level = "info";
  MeterSettings meter;
  bool help = false;
};

// Parses --flag=value and --flag value. Fails with kInvalidArgument naming the flag for an
// unknown flag, a missing value or a malformed number, or a certificate without a key.
Result<Flags> ParseFlags(const std::vector<std::string>& args);

// The --help text: every flag with its default.
std::string FlagsHelp();

}  // namespace agentbudget::webhook
