#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/flag_values.h"
#include "common/result.h"
#include "core/money.h"
#include "core/time_zone.h"

// The agentbudget-operator command line:
//
//   agentbudget-operator [--flag=value]...                 serves (the authority, the
//                                                          controllers, /v1/focus)
//   agentbudget-operator focus-export [--from=DATE] [--to=DATE] [--kubeconfig=PATH]
//       [--namespace=NS]                                   prints FOCUS 1.2 CSV and exits
//   agentbudget-operator migrate-ledger --postgres-dsn-file=PATH [--namespace=NS]
//                                                          copies the ledger from the
//                                                          Kubernetes API into an empty
//                                                          PostgreSQL ledger and exits
//
// Flags are read by common/flags.h: --name=value or --name value, a bare boolean flag is
// true, "--help" prints OptionsHelp(). Serving and focus-export take the same flags, except
// that --from and --to belong to focus-export only.
namespace agentbudget::op {

// Everything the operator is told at start-up, typed. A value type; the initialisers are
// the defaults.
struct Options {
  // The focus-export subcommand (argv[1] == "focus-export"): export [focus_from, focus_to).
  bool focus_export = false;
  // The migrate-ledger subcommand (argv[1] == "migrate-ledger").
  bool migrate_ledger = false;
  core::SysSeconds focus_from{};                          // --from; default: the epoch
  core::SysSeconds focus_to = core::SysSeconds::max();    // --to; default: no end

  std::string kubeconfig;  // empty: $KUBECONFIG, in-cluster, ~/.kube/config
  std::string namespace_name = "agentbudget-system";
  // The authority API (port 0: any free port, printed on stdout), always on TLS: with the
  // pair --tls-cert/--tls-key, else with a certificate the leader issues from the operator's
  // CA for the names of Service authority_service and authority_cert_hosts, written into
  // authority_tls_dir; its CA bundle is published in ConfigMap agentbudget-authority-ca.
  // Plain HTTP only with authority_plaintext.
  flags::ListenAddress listen{"0.0.0.0", 8443};
  std::string tls_cert;
  std::string tls_key;
  bool authority_plaintext = false;
  std::string authority_service = "agentbudget-operator";
  std::vector<std::string> authority_cert_hosts;  // --authority-cert-hosts=a,b
  std::string authority_tls_dir;  // empty: a fresh private directory under $TMPDIR
  // /healthz, /readyz, /metrics and /v1/focus.
  flags::ListenAddress ops_listen{"0.0.0.0", 8080};
  // A rate card merged over the shipped one: models are named by its ids.
  std::string rates_override;
  std::chrono::milliseconds group_commit{200};   // --group-commit-ms
  // Where the durable ledger lives: "kube" (ConfigMaps in namespace_name) or "postgres"
  // (the libpq connection string in the file postgres_dsn_file, usually a mounted Secret;
  // its content is never logged). Every statement is given postgres_timeout.
  std::string ledger_store = "kube";
  std::string postgres_dsn_file;
  std::chrono::milliseconds postgres_timeout{5000};  // --postgres-timeout-ms
  int64_t ledger_ceiling_bytes = int64_t{100} << 20;  // --ledger-ceiling-bytes
  std::chrono::milliseconds status_period{5000};  // --status-ms
  int64_t workers = 4;  // the authority listener's event-loop threads
  std::string log_level = "info";
  bool leader_elect = true;
  std::string identity;  // empty: <hostname>-<pid>
  // Keep the webhook's CA, serving certificate and caBundles (operator/certs/).
  bool webhook_certs = false;
  std::string webhook_service = "agentbudget-webhook";
  std::vector<std::string> webhook_cert_hosts;  // --webhook-cert-hosts=a,b
  // The admission queue's compute prices (USD, non-negative) and API client rate.
  core::Money cpu_price_per_core_hour;
  core::Money memory_price_per_gib_hour;
  int64_t queue_qps = 200;
  // A finished run costing more than this percent of its workflow's rolling median is a
  // cost anomaly (queue::RunCostAnomalies).
  int run_cost_anomaly_percent = 300;

  // --help was given: print OptionsHelp() and exit 0; the other fields are then defaults.
  bool help = false;
};

// Parses argv (argv[0] is the program; argv[1] may be "focus-export" or "migrate-ledger"). Fails with
// kInvalidArgument naming the flag and the rule it breaks (`--listen: port "80x" is not a
// number in 0..65535`), an unknown flag, a positional argument, --tls-cert without
// --tls-key (or the reverse), --authority-plaintext with --tls-cert, --to not after
// --from, a --ledger-store other than kube or postgres, postgres without
// --postgres-dsn-file (or the file with kube), or migrate-ledger without the file. Callers print the message on stderr and exit 2.
Result<Options> ParseOptions(int argc, char** argv);

// The --help text: both forms, every flag with its default.
std::string OptionsHelp();

}  // namespace agentbudget::op
