#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace agentbudget::op {

// agentbudget-operator's command line, typed. Every flag is --name=value; the fields are
// the flags' names in snake_case.
//
//   agentbudget-operator [--kubeconfig=PATH] [--namespace=agentbudget-system]
//       [--listen=0.0.0.0:8443] [--tls-cert=FILE --tls-key=FILE] [--ops-listen=0.0.0.0:8080]
//       [--group-commit-ms=200] [--status-ms=5000] [--workers=256] [--log-level=info]
//       [--leader-elect=true] [--identity=NAME]
//       [--webhook-certs=false] [--webhook-service=agentbudget-webhook]
//       [--webhook-cert-hosts=HOST,...]
//       [--cpu-price-per-core-hour=0] [--memory-price-per-gib-hour=0] [--queue-qps=200]
//   agentbudget-operator focus-export [--kubeconfig=PATH] [--namespace=agentbudget-system]
//       [--from=2026-11-01] [--to=2026-12-01]
struct Options {
  bool focus_export = false;  // the focus-export subcommand
  std::string kubeconfig;     // "": in-cluster config, else ~/.kube/config
  std::string namespace_name = "agentbudget-system";
  std::string listen = "0.0.0.0:8443";
  std::string tls_cert;
  std::string tls_key;
  std::string ops_listen = "0.0.0.0:8080";
  std::chrono::milliseconds group_commit{200};
  std::chrono::milliseconds status_interval{5000};
  int64_t workers = 256;
  std::string log_level = "info";
  std::string from;  // focus-export: the range [from, to)
  std::string to;
  bool leader_elect = true;
  std::string identity;  // "": hostname-pid
  bool webhook_certs = false;
  std::string webhook_service = "agentbudget-webhook";
  std::vector<std::string> webhook_cert_hosts;
  int64_t cpu_price_micros_per_core_hour = 0;
  int64_t memory_price_micros_per_gib_hour = 0;
  int64_t queue_qps = 200;
};

// Parses argv (argv[1] may be the subcommand "focus-export"). kInvalidArgument, with a
// message for the user, for an unknown flag, a malformed one or a bad value.
Result<Options> ParseOptions(int argc, char** argv);

}  // namespace agentbudget::op
