// agentbudget-operator: the budget authority, the AgentBudget controller, the admission
// queue and the operator's certificates around one kube::Manager (flags: operator/options.h).
// Replicas share caches and campaign for the Lease agentbudget-operator; the leader issues
// the authority's certificate (unless given one), reads the durable ledger back, then runs
// the controllers and serves the authority on --listen over TLS (GET /v1/focus and
// GET /v1/showback there too).
// /healthz, /readyz, /metrics and /v1/focus are on --ops-listen. SIGTERM or SIGINT stops it
// after pending commits are durable. The ledger is on the Kubernetes API or in PostgreSQL
// (--ledger-store). `focus-export` prints FOCUS 1.2 CSV instead; `migrate-ledger` copies the
// ledger from the Kubernetes API into PostgreSQL.
#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <memory>
#include <string>

#include "api/v1alpha1/resources.h"
#include "common/log.h"
#include "common/metrics_endpoint.h"
#include "kube/config.h"
#include "kube/manager.h"
#include "meter/rate_card_loader.h"
#include "operator/authority/ledger.h"
#include "operator/authority/metrics.h"
#include "operator/authority/provider_key_secret.h"
#include "operator/authority/spend_access.h"
#include "operator/authority_server.h"
#include "operator/authority_tls.h"
#include "operator/budgets/budget_controller.h"
#include "operator/focus.h"
#include "operator/housekeeping.h"
#include "operator/ledger_backend.h"
#include "operator/ledger_ceiling_pod.h"
#include "operator/ledger_recovery.h"
#include "operator/options.h"
#include "operator/queue/queue.h"
#include "operator/showback.h"

namespace agentbudget::op {
namespace {

int Fail(const Error& error) {
  log::Error("operator failed", {{"error", error.ToString()}});
  return 1;
}

std::string Hostname() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return host;
}

int Run(int argc, char** argv) {
  // Blocked in every thread (they inherit the mask); Run() waits for them with sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto options = ParseOptions(argc, argv);
  if (!options.ok()) {
    std::cerr << options.error().message << "\n";
    return 2;
  }
  if (options->help) {
    std::cout << OptionsHelp();
    return 0;
  }
  log::Level level = log::Level::kInfo;
  log::ParseLevel(options->log_level, &level);
  log::Configure("agentbudget-operator", level);
  auto config = options->kubeconfig.empty() ? kube::DefaultConfig()
                                            : kube::LoadKubeconfig(options->kubeconfig);
  if (!config.ok()) {
    return Fail(config.error());
  }
  auto client = kube::Client::Create(*config);
  if (!client.ok()) {
    return Fail(client.error());
  }
  if (options->migrate_ledger) {
    return RunLedgerMigration(**client, *options);
  }
  auto backend = OpenLedgerBackend(*options, **client);
  if (!backend.ok()) {
    return Fail(backend.error());
  }
  authority::LedgerStore& store = *backend->store;
  auto rates = meter::LoadRateCard(options->rates_override);
  if (!rates.ok()) {
    return Fail(rates.error());
  }
  if (options->focus_export) {
    return RunFocusExport(store, *rates, *options);
  }
  // The queue writes with a client of its own, so that its writes have their own rate limit.
  kube::ClientOptions queue_client_options;
  queue_client_options.qps = static_cast<double>(options->queue_qps);
  queue_client_options.burst = static_cast<int>(2 * options->queue_qps);
  auto queue_client = kube::Client::Create(*config, queue_client_options);
  if (!queue_client.ok()) {
    return Fail(queue_client.error());
  }
  http::ServerOptions ops_listen = ListenOptions(options->ops_listen, 2);
  http::ServerOptions listen =
      ListenOptions(options->listen, static_cast<size_t>(options->workers));
  // The authority's TLS: the given pair, or one the leader issues into `tls_dir`.
  std::string tls_dir;
  if (!options->tls_cert.empty()) {
    listen.tls = http::TlsOptions{options->tls_cert, options->tls_key};
  } else if (!options->authority_plaintext) {
    auto dir = PrepareTlsDir(options->authority_tls_dir);
    if (!dir.ok()) {
      return Fail(dir.error());
    }
    tls_dir = *dir;
    listen.tls = http::TlsOptions{CertFile(tls_dir), KeyFile(tls_dir)};
  } else {
    log::Warn("the authority serves plain HTTP (--authority-plaintext): tokens and spend "
              "cross the network unencrypted; no provider keys are handed out");
  }

  const SystemClock& clock = SystemClock::Instance();
  authority::Ledger ledger(clock, store, *rates, authority::Ledger::Options{},
                           authority::GroupCommitter::Options{options->group_commit, 1000});
  kube::ManagerOptions manager_options;
  if (options->leader_elect) {
    manager_options.leader_election = kube::LeaderElectionConfig{
        options->namespace_name, "agentbudget-operator",
        options->identity.empty() ? Hostname() + "-" + std::to_string(getpid())
                                  : options->identity};
  }
  kube::Manager manager(**client, manager_options);

  authority::TokenReviewAuthenticator authenticator(**client, clock, CachedCallers(manager));
  authority::SpendAccess spend_access(**client, clock, authority::SpendAccess::Options{});
  authority::ProviderKeySecret provider_keys(**client, clock, {options->namespace_name});
  // Before the ledger's recovery: the listener needs its certificate as much as its ledger.
  std::unique_ptr<certs::Certificates> certificates =
      AddCertificates(manager, **client, clock, *options, tls_dir);

  kube::Informer& budget_objects = manager.GetInformer(v1alpha1::kAgentBudgets);
  budgets::BudgetController::Options budget_options;
  budget_options.status_interval = options->status_period;
  budgets::BudgetController budgets(**client, budget_objects, ledger, clock, budget_options);
  kube::Controller& budget_controller = manager.AddController(
      "agentbudget", kube::Scope::kLeader, 1,
      [&budgets](const std::string& name) { return budgets.Reconcile(name); });
  manager.Watch(budget_controller, budget_objects);
  manager.AddLeaderSetup("ledger-recovery", [&] {
    if (Status taken = backend->take_over(); !taken.ok()) {
      log::Warn("cannot take over the ledger; retrying", {{"error", taken.error().ToString()}});
      return taken;
    }
    return RecoverLedger(budgets, store, ledger);
  });

  auto registry = std::make_shared<prometheus::Registry>();
  kube::EventRecorder recorder(**queue_client, "agentbudget-operator", Hostname());
  queue::QueueMetrics queue_metrics(*registry);
  queue::Queue::Options queue_options;
  queue_options.run_cost_anomaly_percent = options->run_cost_anomaly_percent;
  queue_options.prices = {options->cpu_price_per_core_hour.micros(),
                          options->memory_price_per_gib_hour.micros()};
  queue::Queue queue(manager, **queue_client, ledger, recorder, queue_metrics, clock,
                     queue_options);

  authority::AuthorityMetrics metrics(registry);
  LedgerCeilingPod ceiling_reports(**client, recorder, options->namespace_name, Hostname(), clock);
  LedgerCeiling ceiling(*registry, ceiling_reports);
  AddHousekeeping(manager, ledger, store, ceiling, metrics, clock, options->status_period);

  const authority::AuthorityApi::ServingCheck serving = LeaderServing(manager);
  const bool plaintext = options->authority_plaintext;
  auto keys = [&provider_keys, plaintext]() -> Result<authority::ProviderKeys> {
    if (plaintext) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "the authority serves plain HTTP (--authority-plaintext): it hands out "
                       "no provider keys");
    }
    return provider_keys.Keys();
  };
  authority::AuthorityApi api(ledger, authenticator, serving, keys);
  http::Router ops_router;
  http::AddOperationalRoutes(ops_router, serving, registry);
  AddFocusRoute(ops_router, store, spend_access, *rates);
  auto ops_server = http::HttpServer::Start(ops_listen, std::move(ops_router));
  if (!ops_server.ok()) {
    return Fail(ops_server.error());
  }
  http::Router authority_router;
  api.AddRoutes(authority_router);
  AddFocusRoute(authority_router, store, spend_access, *rates);
  // On the leader's listener only: its budgets are the current ones.
  AddShowbackRoute(authority_router, {store, ledger, spend_access, *rates, clock});
  manager.AddRunnable("authority-api", kube::Scope::kLeader,
                      ServeAuthority(std::move(authority_router), listen, (*ops_server)->url()));

  manager.Start();
  int signal = 0;
  sigwait(&stop_signals, &signal);
  log::Info("stopping");
  manager.Stop();
  (*ops_server)->Stop();
  return 0;
}

}  // namespace
}  // namespace agentbudget::op

int main(int argc, char** argv) {
  // cpprestsdk's 40 I/O threads would otherwise each get a malloc arena of their own (up to
  // 8 per core), every arena keeping the high-water mark of the API responses it buffered:
  // two arenas keep the resident set near the live heap (docs/sizing.md, the fleet day).
  mallopt(M_ARENA_MAX, 2);
  return agentbudget::op::Run(argc, argv);
}
