#include "operator/authority_server.h"

#include <cstdlib>
#include <iostream>

#include "api/v1alpha1/labels.h"
#include "api/v1alpha1/resources.h"
#include "common/log.h"

namespace agentbudget::op {

Result<http::ServerOptions> ListenOptions(const std::string& address, size_t workers) {
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

kube::RunFunc ServeAuthority(authority::AuthorityApi& api, http::ServerOptions options,
                             std::string ops_url) {
  return [&api, options = std::move(options), ops_url = std::move(ops_url)](
             const kube::StopSignal& stop) {
    http::Router router;
    api.AddRoutes(router);
    auto server = http::HttpServer::Start(options, std::move(router));
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
