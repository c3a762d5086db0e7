// agentbudget-webhook: the mutating and validating admission webhook (docs/webhook.md).
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "api/v1alpha1/resources.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/metrics_endpoint.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/informer.h"
#include "webhook/admission_handler.h"
#include "webhook/authority_ca_file.h"
#include "webhook/cluster_cache.h"
#include "webhook/flags.h"
#include "webhook/kube_fanout_counter.h"
#include "webhook/metrics.h"
#include "webhook/rejection_reporter.h"

namespace agentbudget::webhook {
namespace {

// How long a stopping webhook lets its open connections end (ServerOptions::drain).
constexpr std::chrono::seconds kShutdownDrain{5};

int Run(const Flags& flags, AuthorityCaFile* authority_ca) {
  auto config = flags.kubeconfig.empty() ? kube::DefaultConfig()
                                         : kube::LoadKubeconfig(flags.kubeconfig);
  if (!config.ok()) {
    log::Error("no Kubernetes configuration", {{"error", config.error().ToString()}});
    return 1;
  }
  kube::ClientOptions client_options;
  client_options.qps = static_cast<double>(flags.kube_qps);
  client_options.burst = flags.kube_burst;
  client_options.request_timeout = flags.fanout_deadline;
  client_options.max_retries = 1;
  auto client = kube::Client::Create(*config, client_options);
  if (!client.ok()) {
    log::Error("cannot create the Kubernetes client", {{"error", client.error().ToString()}});
    return 1;
  }

  ClusterCache cache;
  kube::Informer namespaces(**client, kube::resources::kNamespaces);
  namespaces.AddEventHandlers(
      {[&cache](const nlohmann::json& ns) { cache.PutNamespace(ns); },
       [&cache](const nlohmann::json&, const nlohmann::json& ns) { cache.PutNamespace(ns); },
       [&cache](const nlohmann::json& ns) { cache.RemoveNamespace(ns); }});
  auto put_workload = [&cache](const nlohmann::json& w) {
    if (Status s = cache.PutWorkload(w); !s.ok()) {
      log::Warn("ignoring an invalid AgentWorkload", {{"error", s.error().message}});
    }
  };
  kube::Informer workloads(**client, v1alpha1::kAgentWorkloads);
  workloads.AddEventHandlers(
      {put_workload, [put_workload](const nlohmann::json&, const nlohmann::json& w) {
         put_workload(w);
       },
       [&cache](const nlohmann::json& w) { cache.RemoveWorkload(w); }});
  namespaces.Start();
  workloads.Start();

  kube::Client& api = **client;
  PodLookup pods = [&api](const std::string& ns, const std::string& name) {
    return api.Get(kube::resources::kPods, ns, name);
  };
  FanoutTiming fanout_timing;
  fanout_timing.budget = flags.fanout_deadline;
  fanout_timing.grace = flags.fanout_grace;
  KubeFanoutCounter fanout(api, fanout_timing);
  auto registry = std::make_shared<prometheus::Registry>();
  WebhookMetrics metrics(registry);
  RejectionReporter rejections(api);
  AuthorityCaSource ca_source;
  if (authority_ca != nullptr) {
    ca_source = [authority_ca] { return authority_ca->Pem(); };
  }
  AdmissionHandler handler(cache, fanout, pods, flags.meter, metrics,
                           [&rejections](const std::string& ns, const std::string& name) {
                             rejections.Count(ns, name);
                           },
                           flags.access, std::move(ca_source));

  http::Router router;
  router.Add("POST", "/mutate", [&handler](const http::Request& r) { return handler.Mutate(r); });
  router.Add("POST", "/validate",
             [&handler](const http::Request& r) { return handler.Validate(r); });
  http::AddOperationalRoutes(
      router,
      [&namespaces, &workloads]() -> Status {
        if (!namespaces.HasSynced() || !workloads.HasSynced()) {
          return MakeError(ErrorCode::kFailedPrecondition,
                           "namespace and AgentWorkload caches have not synced");
        }
        return OkStatus();
      },
      registry);

  http::ServerOptions options;
  options.address = flags.listen_address;
  options.port = flags.port;
  options.max_body_bytes = flags.max_body_bytes;
  options.worker_threads = flags.worker_threads;
  // The API server's pooled connections to a replica being replaced each end after an
  // answer (its admission POSTs are never retried on a reset); well within the pod's
  // grace period after the chart's preStop wait.
  options.drain = kShutdownDrain;
  if (!flags.tls_cert_file.empty()) {
    options.tls = http::TlsOptions{flags.tls_cert_file, flags.tls_key_file};
  }
  auto server = http::HttpServer::Start(options, std::move(router));
  if (!server.ok()) {
    log::Error("cannot start serving", {{"error", server.error().ToString()}});
    return 1;
  }
  log::Info("serving", {{"url", (*server)->url()}, {"kube", config->source}});
  if (!namespaces.WaitForSync(flags.sync_timeout) || !workloads.WaitForSync(flags.sync_timeout)) {
    log::Error("caches did not sync in time", {{"timeout_seconds", flags.sync_timeout.count()}});
    return 1;
  }
  log::Info("caches synced", {{"namespaces", cache.namespace_count()},
                              {"workloads", cache.workload_count()}});
  rejections.Start();

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  int received = 0;
  sigwait(&signals, &received);
  log::Info("stopping", {{"signal", received}});
  (*server)->Stop();
  // After the server: no admission counts a rejection any more.
  rejections.Stop();
  workloads.Stop();
  namespaces.Stop();
  return 0;
}

}  // namespace
}  // namespace agentbudget::webhook

int main(int argc, char** argv) {
  using namespace agentbudget;
  // Block the stop signals before any thread starts, so that sigwait() receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto flags = webhook::ParseFlags(std::vector<std::string>(argv + 1, argv + argc));
  if (!flags.ok()) {
    std::cerr << "agentbudget-webhook: " << flags.error().message << "\n";
    return 2;
  }
  if (flags->help) {
    std::cout << webhook::FlagsHelp();
    return 0;
  }
  log::Level level = log::Level::kInfo;
  log::ParseLevel(flags->log_level, &level);  // checked by ParseFlags
  log::Configure("webhook", level);
  std::unique_ptr<webhook::AuthorityCaFile> authority_ca;
  if (!flags->authority_ca_file.empty()) {
    auto loaded = webhook::AuthorityCaFile::Load(flags->authority_ca_file);
    if (!loaded.ok()) {
      std::cerr << "agentbudget-webhook: --authority-ca-file: " << loaded.error().message << "\n";
      return 2;
    }
    authority_ca = std::move(loaded).value();
  }
  return webhook::Run(*flags, authority_ca.get());
}
