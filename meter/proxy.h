#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "core/rate_card.h"
#include "meter/config.h"
#include "meter/enforcer.h"
#include "meter/provider_keys.h"
#include "meter/records.h"

namespace agentbudget::meter {

// The meter's HTTP server: proxies the routes of meter/routes.h to the configured
// upstreams (see ProxyCall in meter/proxy_call.h for what happens to each call), and serves
// GET /healthz, /readyz, /metrics and /v1/run (the run envelope's totals). With
// config.health_listen_host set, a second listener there serves /healthz, /readyz (503 once
// stopping) and /metrics only: the kubelet's probes reach it, while the proxy listener stays
// on loopback. Calls for models outside config.models_allowed (and models_fallback) are
// denied. Everything runs on one set of event loops (common/event_loops.h), one per core
// and a thread each, which the client listener (common/http_server.h) and the providers'
// clients (meter/beast_upstream_client.h) share: a call is accepted, forwarded and relayed
// on the loop of its client's connection, without a thread hop. With an authority in the
// path, the enforcer's blocking calls run on a small fixed pool of their own. No thread per
// request. Thread-safe.
class Proxy {
 public:
  // `rates`, `enforcer`, `records` and `keys` must outlive the Proxy.
  Proxy(Config config, const core::RateCard& rates, Enforcer& enforcer, Records& records,
        ProviderKeys& keys);
  ~Proxy();  // Stop()s

  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // Starts listening on config.listen_host:listen_port (and the health address, if any).
  // Fails with kUnavailable when an address cannot be bound, kInvalidArgument for a
  // malformed upstream URL.
  Status Start();

  // Stops accepting, then waits for requests in flight to finish. Idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace agentbudget::meter
