#include "operator/authority_server.h"

#include <iostream>

#include "api/v1alpha1/labels.h"
#include "api/v1alpha1/resources.h"
#include "common/log.h"

namespace agentbudget::op {

http::ServerOptions ListenOptions(const flags::ListenAddress& address, size_t workers) {
  http::ServerOptions options;
  options.address = address.host;
  options.port = address.port;
  options.worker_threads = workers;
  options.max_body_bytes = 64 * 1024;
  return options;
}

authority::TokenReviewAuthenticator::Options CachedCallers(kube::Manager& manager) {
  kube::InformerOptions governed_pods;
  governed_pods.reflector.label_selector = v1alpha1::keys::kRun;
  authority::TokenReviewAuthenticator::Options options;
  options.pods = &manager.GetInformer(kube::resources::kPods, governed_pods);
  options.namespaces = &manager.GetInformer(kube::resources::kNamespaces);
  options.workloads = &manager.GetInformer(v1alpha1::kAgentWorkloads);
  return options;
}

authority::AuthorityApi::ServingCheck LeaderServing(const kube::Manager& manager) {
  return [&manager]() -> Status {
    if (!manager.IsElected()) {
      return Unavailable("not the leader");
    }
    return manager.IsLeader() ? OkStatus() : Unavailable("starting: recovering the ledger");
  };
}

kube::RunFunc ServeAuthority(http::Router routes, http::ServerOptions options,
                             std::string ops_url) {
  return [routes = std::move(routes), options = std::move(options),
          ops_url = std::move(ops_url)](const kube::StopSignal& stop) {
    auto server = http::HttpServer::Start(options, routes);
    if (!server.ok()) {
      log::Error("operator failed", {{"error", server.error().ToString()}});
      std::_Exit(1);
    }
    log::Info("authority serving", {{"url", (*server)->url()}, {"ops", ops_url}});
    // Prints the ports for scripts and tests that bound port 0.
    std::cout << "authority " << (*server)->url() << "\nops " << ops_url << std::endl;
    stop.Wait();
    (*server)->Stop();
  };
}

}  // namespace agentbudget::op
