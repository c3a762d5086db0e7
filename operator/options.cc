#include "operator/options.h"

#include <string_view>

#include "common/flags.h"
#include "core/time_format.h"

namespace agentbudget::op {
namespace {

constexpr std::string_view kFocusExport = "focus-export";
constexpr std::string_view kMigrateLedger = "migrate-ledger";

flags::FlagSet::Setter Time(core::SysSeconds* out) {
  return [out](std::string_view value) -> Status {
    auto time = core::ParseRfc3339(std::string(value));
    if (!time.ok()) {
      return InvalidArgument("\"" + std::string(value) +
                             "\" is not a date (2026-11-01) or an RFC 3339 UTC time");
    }
    *out = *time;
    return OkStatus();
  };
}

// Binds every flag of `options`; --from and --to only when it is a focus export.
void Define(Options& options, flags::FlagSet& set) {
  using flags::PortRule;
  set.String("kubeconfig", &options.kubeconfig,
             "kubeconfig file; empty: $KUBECONFIG, in-cluster, ~/.kube/config");
  set.String("namespace", &options.namespace_name,
             "namespace of the ledger, the leader lease and the webhook's certificates");
  if (options.focus_export) {
    set.Custom("from", "the epoch", "focus-export: first instant exported (date or RFC 3339)",
               Time(&options.focus_from));
    set.Custom("to", "no end", "focus-export: end of the export, excluded",
               Time(&options.focus_to));
  }
  set.Listen("listen", &options.listen, PortRule::kAllowZero,
             "authority API address, HOST:PORT (port 0: any free port, printed on stdout)");
  set.String("tls-cert", &options.tls_cert,
             "authority serving certificate (PEM), with --tls-key; none: the operator issues "
             "one from its CA and publishes the CA in ConfigMap agentbudget-authority-ca");
  set.String("tls-key", &options.tls_key, "authority serving key (PEM); with --tls-cert");
  set.Bool("authority-plaintext", &options.authority_plaintext,
           "serve the authority API over plain HTTP. RISK: meters' tokens, spend and provider "
           "keys cross the network unencrypted and meters cannot tell the authority from an "
           "impostor; the authority then hands out no provider keys. For loopback tests only");
  set.String("authority-service", &options.authority_service,
             "the authority's Service, named (with its namespace) by the issued certificate");
  set.List("authority-cert-hosts", &options.authority_cert_hosts,
           "more names (DNS names or IPs) for the issued authority certificate, comma-separated");
  set.String("authority-tls-dir", &options.authority_tls_dir,
             "writable directory the issued authority certificate and key are written to; "
             "empty: a fresh private directory under $TMPDIR");
  set.Listen("ops-listen", &options.ops_listen, PortRule::kAllowZero,
             "address of /healthz, /readyz, /metrics and /v1/focus, HOST:PORT");
  set.String("rates-override", &options.rates_override,
             "rate card YAML merged over the shipped one (as the meter's): models are named by "
             "its ids, any other name as \"other\"");
  set.Duration("group-commit-ms", &options.group_commit,
               "longest wait before commits are written to the ledger together, in ms");
  set.Int("ledger-ceiling-bytes", &options.ledger_ceiling_bytes, 1 << 20,
          "the most the ledger may hold in etcd (its ConfigMaps), in bytes; commits are "
          "refused (meters spool them) rather than pass it");
  set.Duration("status-ms", &options.status_period,
               "period of AgentBudget status updates and metrics, in ms");
  set.String("ledger-store", &options.ledger_store,
             "where the durable ledger lives: kube (ConfigMaps in --namespace) or postgres");
  set.String("postgres-dsn-file", &options.postgres_dsn_file,
             "file holding the PostgreSQL connection string (libpq keywords or URI), e.g. "
             "from a Secret; for --ledger-store=postgres and migrate-ledger");
  set.Duration("postgres-timeout-ms", &options.postgres_timeout,
               "longest a PostgreSQL statement or connection attempt may take, in ms");
  set.Int("workers", &options.workers, 1,
          "authority listener threads (event loops; a commit holds none while it waits)");
  set.LogLevel("log-level", &options.log_level, "debug, info, warn or error");
  set.Bool("leader-elect", &options.leader_elect,
           "campaign for the lease; false: act as the only replica");
  set.String("identity", &options.identity, "leader election identity; empty: HOSTNAME-PID");
  set.Bool("webhook-certs", &options.webhook_certs,
           "keep the webhook's CA, serving certificate and caBundles");
  set.String("webhook-service", &options.webhook_service,
             "the webhook's Service, named by its serving certificate");
  set.List("webhook-cert-hosts", &options.webhook_cert_hosts,
           "more names for the webhook's serving certificate, comma-separated");
  set.Money("cpu-price-per-core-hour", &options.cpu_price_per_core_hour,
            "admission queue: USD per CPU core-hour requested");
  set.Money("memory-price-per-gib-hour", &options.memory_price_per_gib_hour,
            "admission queue: USD per GiB-hour of memory requested");
  set.Int("queue-qps", &options.queue_qps, 1,
          "admission queue: API requests per second (burst twice as many)");
  set.Int("run-cost-anomaly-percent", &options.run_cost_anomaly_percent, 101,
          "a finished run costing more than this percent of the median of its workflow's last "
          "50 runs raises a RunCostAnomaly Event, condition and metric");
}

constexpr char kUsage[] =
    "agentbudget-operator: the budget authority and the AgentBudget controller.\n\n"
    "Usage:\n"
    "  agentbudget-operator [--flag=value]...\n"
    "      serves the authority API (TLS) on --listen and /healthz, /readyz, /metrics,\n"
    "      /v1/focus on --ops-listen\n"
    "  agentbudget-operator focus-export [--from=DATE] [--to=DATE] [--flag=value]...\n"
    "      prints the committed spend in [from, to) as FOCUS 1.2 CSV\n"
    "  agentbudget-operator migrate-ledger --postgres-dsn-file=PATH [--flag=value]...\n"
    "      copies the ledger in --namespace on the Kubernetes API into an empty PostgreSQL\n"
    "      ledger (stop the operator first)\n";

}  // namespace

Result<Options> ParseOptions(int argc, char** argv) {
  Options initial;
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  if (!args.empty() && args.front() == kFocusExport) {
    initial.focus_export = true;
    args.erase(args.begin());
  } else if (!args.empty() && args.front() == kMigrateLedger) {
    initial.migrate_ledger = true;
    args.erase(args.begin());
  }
  auto options = flags::ParseInto(std::move(initial), kUsage, args, Define);
  if (!options.ok() || options->help) {
    return options;
  }
  if (options->tls_cert.empty() != options->tls_key.empty()) {
    return InvalidArgument("--tls-cert and --tls-key go together");
  }
  if (options->authority_plaintext && !options->tls_cert.empty()) {
    return InvalidArgument("--authority-plaintext and --tls-cert exclude each other");
  }
  if (options->focus_to <= options->focus_from) {
    return InvalidArgument("--to must be after --from");
  }
  if (options->ledger_store != "kube" && options->ledger_store != "postgres") {
    return InvalidArgument("--ledger-store: \"" + options->ledger_store +
                           "\" is neither kube nor postgres");
  }
  const bool postgres = options->ledger_store == "postgres" || options->migrate_ledger;
  if (postgres && options->postgres_dsn_file.empty()) {
    return InvalidArgument(options->migrate_ledger
                               ? "migrate-ledger needs --postgres-dsn-file"
                               : "--ledger-store=postgres needs --postgres-dsn-file");
  }
  if (!postgres && !options->postgres_dsn_file.empty()) {
    return InvalidArgument("--postgres-dsn-file is for --ledger-store=postgres");
  }
  return options;
}

std::string OptionsHelp() {
  Options defaults;
  defaults.focus_export = true;  // lists --from and --to too
  return flags::HelpOf(std::move(defaults), kUsage, Define);
}

}  // namespace agentbudget::op
