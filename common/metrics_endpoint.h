#pragma once

#include <functional>
#include <memory>
#include <string>

#include <prometheus/registry.h>

#include "common/http_server.h"
#include "common/result.h"

namespace agentbudget::http {

// The registry's metrics in the Prometheus text exposition format (version 0.0.4).
std::string SerializeMetrics(const prometheus::Registry& registry);

// Answers OK (200) when `check` returns OK, otherwise 503 with the error's message, so a
// probe's failure says why. `check` is called on a worker thread per probe and must be
// thread-safe and quick.
using ReadinessCheck = std::function<Status()>;

// Adds the operational endpoints to `router`:
//   GET /healthz  200 "ok" while the process serves requests (liveness)
//   GET /readyz   `ready()` as above (readiness)
//   GET /metrics  `registry` serialised (text/plain; version=0.0.4)
// `registry` is shared with the code that records metrics; it synchronises itself.
void AddOperationalRoutes(Router& router, ReadinessCheck ready,
                          std::shared_ptr<prometheus::Registry> registry);

}  // namespace agentbudget::http
