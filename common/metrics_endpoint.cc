#include "common/metrics_endpoint.h"

#include <prometheus/text_serializer.h>

#include <utility>

namespace agentbudget::http {

std::string SerializeMetrics(const prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

void AddOperationalRoutes(Router& router, ReadinessCheck ready,
                          std::shared_ptr<prometheus::Registry> registry) {
  router.Add("GET", "/healthz", [](const Request&) { return Response::Text(200, "ok\n"); });
  router.Add("GET", "/readyz", [ready = std::move(ready)](const Request&) {
    Status status = ready();
    if (status.ok()) {
      return Response::Text(200, "ok\n");
    }
    return Response::Text(503, "not ready: " + status.error().message + "\n");
  });
  router.Add("GET", "/metrics", [registry = std::move(registry)](const Request&) {
    Response r;
    r.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8";
    r.body = SerializeMetrics(*registry);
    return r;
  });
}

}  // namespace agentbudget::http
