// agentbudget-operator: the budget authority and the AgentBudget controller.
//
//   agentbudget-operator [--kubeconfig=PATH] [--namespace=agentbudget-system]
//       [--listen=0.0.0.0:8443] [--tls-cert=FILE --tls-key=FILE] [--ops-listen=0.0.0.0:8080]
//       [--group-commit-ms=200] [--status-ms=5000] [--workers=256]
//       [--webhook-certs=false] [--webhook-service=agentbudget-webhook]
//       [--webhook-cert-hosts=HOST,...]
//       [--cpu-price-per-core-hour=0] [--memory-price-per-gib-hour=0] [--queue-qps=200]
//   agentbudget-operator focus-export [--kubeconfig=PATH] [--namespace=agentbudget-system]
//       [--from=2026-11-01] [--to=2026-12-01]
//
// The first form serves; focus-export prints the committed spend in [from, to) as FOCUS 1.2
// CSV, read from the durable ledger with the kubeconfig's credentials (as does
// GET /v1/focus?from=&to= on --ops-listen).
// Starts by listing AgentBudgets and reading the durable ledger back (so balances are
// exactly what was acknowledged before the last stop), then serves the authority API on
// --listen and /healthz, /readyz, /metrics on --ops-listen. SIGTERM or SIGINT stops it
// after pending commits are durable. With --webhook-certs=true the leader also keeps the
// webhook's CA, serving certificate and caBundles (operator/certs/); the serving
// certificate names the Service --webhook-service in --namespace and --webhook-cert-hosts.
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "api/v1alpha1/resources.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/metrics_endpoint.h"
#include "core/money.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/informer.h"
#include "kube/leader_election.h"
#include "operator/authority/api.h"
#include "operator/authority/metrics.h"
#include "operator/budgets/budget_controller.h"
#include "operator/certs/webhook_certificates.h"
#include "operator/authority/focus_export.h"
#include "operator/authority/kube_ledger_store.h"
#include "operator/authority/ledger.h"
#include "operator/queue/queue_controller.h"
#include "operator/authority/token_review_authenticator.h"

namespace agentbudget::op {
namespace {

using authority::AuthorityApi;
using authority::AuthorityMetrics;
using authority::FocusExport;
using authority::GroupCommitter;
using authority::KubeLedgerStore;
using authority::Ledger;
using authority::ParseFocusRange;
using authority::TokenReviewAuthenticator;
using budgets::BudgetController;

std::atomic<bool> stop_requested{false};

void OnSignal(int /*signal*/) { stop_requested = true; }

struct Flags {
  std::map<std::string, std::string> values = {
      {"kubeconfig", ""},          {"namespace", "agentbudget-system"},
      {"listen", "0.0.0.0:8443"},  {"tls-cert", ""},
      {"tls-key", ""},             {"ops-listen", "0.0.0.0:8080"},
      {"group-commit-ms", "200"},  {"status-ms", "5000"},
      {"workers", "256"},          {"log-level", "info"},
      {"from", ""},                {"to", ""},
      {"leader-elect", "true"},    {"identity", ""},
      {"webhook-certs", "false"},  {"webhook-service", "agentbudget-webhook"},
      {"webhook-cert-hosts", ""},
      {"cpu-price-per-core-hour", "0"}, {"memory-price-per-gib-hour", "0"},
      {"queue-qps", "200"},
  };
  Status Parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      const size_t equals = arg.find('=');
      if (arg.rfind("--", 0) != 0 || equals == std::string::npos) {
        return InvalidArgument("expected --name=value, got \"" + arg + "\"");
      }
      const std::string name = arg.substr(2, equals - 2);
      if (!values.contains(name)) {
        return InvalidArgument("unknown flag --" + name);
      }
      values[name] = arg.substr(equals + 1);
    }
    return OkStatus();
  }
  Result<int64_t> Number(const std::string& name) const {
    const std::string& text = values.at(name);
    char* end = nullptr;
    const long long value = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || value <= 0) {
      return InvalidArgument("--" + name + " must be a positive integer");
    }
    return static_cast<int64_t>(value);
  }
};

Result<http::ServerOptions> Listen(const std::string& address, size_t workers) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return InvalidArgument("listen address \"" + address + "\" needs host:port");
  }
  http::ServerOptions options;
  options.address = address.substr(0, colon);
  const int port = std::atoi(address.c_str() + colon + 1);
  if (port < 0 || port > 65535) {
    return InvalidArgument("bad port in \"" + address + "\"");
  }
  options.port = static_cast<uint16_t>(port);
  options.worker_threads = workers;
  options.max_queued_requests = 4096;
  options.max_body_bytes = 64 * 1024;
  return options;
}

int Fail(const Error& error) {
  log::Error("operator failed", {{"error", error.ToString()}});
  return 1;
}

std::string FocusQuery(const Flags& flags) {
  std::string query;
  for (const char* name : {"from", "to"}) {
    if (!flags.values.at(name).empty()) {
      query += (query.empty() ? "" : "&") + std::string(name) + "=" + flags.values.at(name);
    }
  }
  return query;
}

int ExportFocus(kube::Client& client, const Flags& flags) {
  auto range = ParseFocusRange(FocusQuery(flags));
  if (!range.ok()) {
    std::cerr << range.error().message << "\n";
    return 2;
  }
  KubeLedgerStore store(client, flags.values.at("namespace"));
  auto entries = store.Load();
  if (!entries.ok()) {
    return Fail(entries.error());
  }
  std::cout << FocusExport(*entries, range->first, range->second, core::FocusAccount{});
  return 0;
}

// The admission queue, its client and its Event recorder, starting on a thread of its own
// (its informers sync first). Stop() stops it.
class QueueRunner {
 public:
  QueueRunner(std::unique_ptr<kube::Client> client, const std::string& identity, Ledger& ledger,
              const Clock& clock, prometheus::Registry& registry,
              queue::QueueController::Options options)
      : client_(std::move(client)),
        recorder_(*client_, "agentbudget-operator", identity),
        metrics_(registry),
        controller_(*client_, ledger, recorder_, metrics_, clock, std::move(options)),
        thread_([this] { controller_.Start(); }) {}
  ~QueueRunner() { Stop(); }
  void Stop() {
    controller_.Stop();
    if (thread_.joinable()) {
      thread_.join();
    }
  }

 private:
  std::unique_ptr<kube::Client> client_;
  kube::EventRecorder recorder_;
  queue::QueueMetrics metrics_;
  queue::QueueController controller_;
  std::thread thread_;
};

Result<std::unique_ptr<QueueRunner>> StartQueue(const kube::RestConfig& config, Flags& flags,
                                                Ledger& ledger, const Clock& clock,
                                                prometheus::Registry& registry) {
  queue::QueueController::Options options;
  for (auto [flag, price] :
       {std::pair{"cpu-price-per-core-hour", &options.prices.micros_per_core_hour},
        std::pair{"memory-price-per-gib-hour", &options.prices.micros_per_gib_hour}}) {
    auto money = core::Money::Parse(flags.values[flag]);
    if (!money.ok() || money->micros() < 0) {
      return InvalidArgument(std::string("--") + flag + " must be a decimal amount in USD");
    }
    *price = money->micros();
  }
  auto qps = flags.Number("queue-qps");
  if (!qps.ok()) {
    return std::move(qps).error();
  }
  kube::ClientOptions client_options;
  client_options.qps = static_cast<double>(*qps);
  client_options.burst = static_cast<int>(2 * *qps);
  auto client = kube::Client::Create(config, client_options);
  if (!client.ok()) {
    return std::move(client).error();
  }
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return std::make_unique<QueueRunner>(std::move(*client), host, ledger, clock, registry,
                                       std::move(options));
}

int Run(int argc, char** argv) {
  Flags flags;
  const bool focus_export = argc > 1 && std::string(argv[1]) == "focus-export";
  if (focus_export) {
    --argc;
    ++argv;
  }
  if (Status parsed = flags.Parse(argc, argv); !parsed.ok()) {
    std::cerr << parsed.error().message << "\n";
    return 2;
  }
  log::Level level = log::Level::kInfo;
  log::ParseLevel(flags.values["log-level"], &level);
  log::Configure("agentbudget-operator", level);
  auto group_commit_ms = flags.Number("group-commit-ms");
  auto status_ms = flags.Number("status-ms");
  auto workers = flags.Number("workers");
  for (const auto* number : {&group_commit_ms, &status_ms, &workers}) {
    if (!number->ok()) {
      return Fail(number->error());
    }
  }
  auto config = flags.values["kubeconfig"].empty()
                    ? kube::DefaultConfig()
                    : kube::LoadKubeconfig(flags.values["kubeconfig"]);
  if (!config.ok()) {
    return Fail(config.error());
  }
  auto client = kube::Client::Create(*config);
  if (!client.ok()) {
    return Fail(client.error());
  }
  if (focus_export) {
    return ExportFocus(**client, flags);
  }
  const SystemClock& clock = SystemClock::Instance();
  KubeLedgerStore store(**client, flags.values["namespace"]);
  Ledger ledger(clock, store, Ledger::Options{},
                GroupCommitter::Options{std::chrono::milliseconds{*group_commit_ms}, 1000});
  BudgetController controller(**client, ledger, clock, BudgetController::Options{});
  // The authenticator maps a token's pod to its run, namespace and workload from these
  // caches, so the reserve path reads the API only for the (cached) TokenReview.
  kube::InformerOptions governed_pods;
  governed_pods.reflector.label_selector = "agentbudget.io/run";
  kube::Informer pods(**client, kube::resources::kPods, governed_pods);
  kube::Informer namespaces(**client, kube::resources::kNamespaces);
  kube::Informer workloads(**client, v1alpha1::kAgentWorkloads);
  for (kube::Informer* informer : {&pods, &namespaces, &workloads}) {
    informer->Start();
  }
  TokenReviewAuthenticator::Options authenticator_options;
  authenticator_options.pods = &pods;
  authenticator_options.namespaces = &namespaces;
  authenticator_options.workloads = &workloads;
  TokenReviewAuthenticator authenticator(**client, clock, authenticator_options);

  kube::Informer budgets(**client, v1alpha1::kAgentBudgets);
  budgets.AddEventHandlers({
      [&](const nlohmann::json& object) { controller.OnUpsert(object); },
      [&](const nlohmann::json&, const nlohmann::json& object) { controller.OnUpsert(object); },
      [&](const nlohmann::json& object) { controller.OnDelete(object); },
  });
  budgets.Start();

  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);

  // Only the leader serves: its ledger, recovered after it took the lease, is the only
  // authoritative one. Followers answer 503 (retryable) and fail readiness.
  std::atomic<bool> leading{false};
  std::atomic<bool> recovered{false};
  auto serving = [&]() -> Status {
    if (!leading) {
      return Unavailable("not the leader");
    }
    if (!recovered) {
      return Unavailable("starting: recovering the ledger");
    }
    return OkStatus();
  };
  std::unique_ptr<kube::LeaderElector> elector;
  std::thread election;
  if (flags.values["leader-elect"] == "true") {
    std::string identity = flags.values["identity"];
    if (identity.empty()) {
      char host[256] = {};
      gethostname(host, sizeof(host) - 1);
      identity = std::string(host) + "-" + std::to_string(getpid());
    }
    kube::LeaderElectionConfig election_config;
    election_config.lease_namespace = flags.values["namespace"];
    election_config.lease_name = "agentbudget-operator";
    election_config.identity = identity;
    kube::LeaderCallbacks callbacks;
    callbacks.on_started_leading = [&] {
      log::Info("became the leader");
      leading = true;
    };
    callbacks.on_stopped_leading = [&] {
      if (!stop_requested) {
        // Another replica may lead now: stop acting at once, as client-go does. Commits
        // not yet acknowledged are resent by the meters to the new leader.
        log::Error("lost leadership; exiting");
        std::_Exit(1);
      }
    };
    elector = std::make_unique<kube::LeaderElector>(**client, election_config, callbacks);
    election = std::thread([&] { (void)elector->Run(); });
  } else {
    leading = true;
  }
  // Stops campaigning (releasing a held lease) on every way out of this function.
  struct ElectionGuard {
    kube::LeaderElector* elector;
    std::thread& thread;
    ~ElectionGuard() {
      if (elector != nullptr) {
        elector->Stop();
      }
      if (thread.joinable()) {
        thread.join();
      }
    }
  } election_guard{elector.get(), election};
  auto registry = std::make_shared<prometheus::Registry>();
  AuthorityMetrics metrics(registry);
  AuthorityApi api(ledger, authenticator, serving);

  http::Router ops_router;
  http::AddOperationalRoutes(ops_router, serving, registry);
  // Finance export: reads the durable ledger, so it answers on followers too.
  ops_router.Add("GET", "/v1/focus", [&store](const http::Request& request) {
    auto range = ParseFocusRange(request.query);
    if (!range.ok()) {
      return http::Response::FromError(range.error());
    }
    auto entries = store.Load();
    if (!entries.ok()) {
      return http::Response::FromError(entries.error());
    }
    http::Response response = http::Response::Text(
        200, FocusExport(*entries, range->first, range->second, core::FocusAccount{}));
    response.headers["Content-Type"] = "text/csv; charset=utf-8";
    return response;
  });
  auto ops_options = Listen(flags.values["ops-listen"], 2);
  if (!ops_options.ok()) {
    return Fail(ops_options.error());
  }
  auto ops_server = http::HttpServer::Start(*ops_options, std::move(ops_router));
  if (!ops_server.ok()) {
    return Fail(ops_server.error());
  }

  // Balances come from the budgets and the durable ledger: both must be read first, and
  // the ledger only once this process leads (the previous leader may have appended).
  while (!stop_requested && !budgets.WaitForSync(std::chrono::seconds{1})) {
  }
  while (!stop_requested && !leading) {
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
  while (!stop_requested) {
    auto entries = store.Load();
    if (entries.ok()) {
      ledger.Recover(*entries);
      log::Info("ledger recovered", {{"entries", entries->size()}});
      break;
    }
    log::Warn("cannot read the ledger; retrying", {{"error", entries.error().ToString()}});
    std::this_thread::sleep_for(std::chrono::seconds{1});
  }
  recovered = !stop_requested;

  // The admission queue (docs/admission-queue.md) runs on the leader only, with its own
  // client so that its writes have their own rate limit.
  auto queue = StartQueue(*config, flags, ledger, clock, *registry);
  if (!queue.ok()) {
    return Fail(queue.error());
  }

  http::Router router;
  api.AddRoutes(router);
  auto options = Listen(flags.values["listen"], static_cast<size_t>(*workers));
  if (!options.ok()) {
    return Fail(options.error());
  }
  if (!flags.values["tls-cert"].empty()) {
    options->tls = http::TlsOptions{flags.values["tls-cert"], flags.values["tls-key"]};
  }
  auto server = http::HttpServer::Start(*options, std::move(router));
  if (!server.ok()) {
    return Fail(server.error());
  }
  log::Info("authority serving", {{"url", (*server)->url()}, {"ops", (*ops_server)->url()}});
  // Prints the ports for scripts and tests that bound port 0.
  std::cout << "authority " << (*server)->url() << "\nops " << (*ops_server)->url() << std::endl;

  // Hourly, folds ledger segments older than the idempotency window (and an hour's margin)
  // into checkpoints, off the housekeeping thread: a compaction reads the whole ledger.
  std::thread compactor([&] {
    auto next = std::chrono::steady_clock::now();
    while (!stop_requested) {
      if (std::chrono::steady_clock::now() >= next) {
        const core::SysSeconds before = std::chrono::floor<std::chrono::seconds>(clock.Now()) -
                                        Ledger::Options{}.idempotency_ttl - std::chrono::hours{1};
        auto compacted = store.Compact(before);
        if (compacted.ok()) {
          log::Info("ledger compacted", {{"folded_entries", *compacted}});
        } else {
          log::Warn("ledger compaction failed", {{"error", compacted.error().ToString()}});
        }
        next = std::chrono::steady_clock::now() + std::chrono::hours{1};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{200});
    }
  });
  std::unique_ptr<certs::WebhookCertificates> webhook_certificates;
  if (flags.values["webhook-certs"] == "true") {
    std::vector<std::string> extra_hosts;
    std::stringstream hosts(flags.values["webhook-cert-hosts"]);
    for (std::string host; std::getline(hosts, host, ',');) {
      if (!host.empty()) {
        extra_hosts.push_back(host);
      }
    }
    certs::WebhookCertificates::Options options;
    options.namespace_name = flags.values["namespace"];
    options.hosts = certs::WebhookCertificates::ServiceHosts(
        flags.values["webhook-service"], options.namespace_name, extra_hosts);
    webhook_certificates =
        std::make_unique<certs::WebhookCertificates>(**client, clock, std::move(options));
  }
  auto next_status = std::chrono::steady_clock::now();
  while (!stop_requested) {
    ledger.Sweep();
    if (webhook_certificates) {
      webhook_certificates->ReconcileWhenDue(std::chrono::seconds{60}, std::chrono::seconds{5});
    }
    if (std::chrono::steady_clock::now() >= next_status) {
      controller.SyncStatuses();
      metrics.Update(ledger.Budgets(), ledger.stats(), ledger.spend(), ledger.pending_commits());
      next_status = std::chrono::steady_clock::now() + std::chrono::milliseconds{*status_ms};
    }
    // The housekeeping tick; requests are served on the server's own threads.
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
  }
  log::Info("stopping");
  compactor.join();
  (*server)->Stop();
  (*ops_server)->Stop();
  (*queue)->Stop();
  budgets.Stop();
  for (kube::Informer* informer : {&pods, &namespaces, &workloads}) {
    informer->Stop();
  }
  return 0;
}

}  // namespace
}  // namespace agentbudget::op

int main(int argc, char** argv) { return agentbudget::op::Run(argc, argv); }
