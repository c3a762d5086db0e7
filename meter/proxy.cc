#include "meter/proxy.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <latch>
#include <memory>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/http_server.h"
#include "common/log.h"
#include "common/mutex.h"
#include "common/thread_name.h"
#include "meter/beast_upstream_client.h"
#include "meter/model_allowlist.h"
#include "meter/proxy_call.h"
#include "meter/routes.h"

namespace agentbudget::meter {
namespace {

namespace server = ::agentbudget::http;
using nlohmann::json;

// Event loops the clients' connections and the providers' share: one per core, a few at
// most.
size_t LoopCount() {
  return std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4);
}

// Threads for releases when an authority is in the path: a release waits for the
// authority's answer. A reservation never blocks a thread, and a commit runs on the loop:
// it only queues its spool entry (the spool's writer syncs it, a sender sends it).
constexpr size_t kSettleThreads = 4;

server::Response NoSuchPath(const std::string& path) {
  server::Response r =
      server::Response::Json(404, json{{"error", {{"message", "no such path: " + path}}}});
  r.headers["x-should-retry"] = "false";
  return r;
}

}  // namespace

struct Proxy::Impl {
  Config config;
  const core::RateCard& rates;
  Enforcer& enforcer;
  Records& records;
  ProviderKeys& keys;
  const ModelAllowlist allowlist;
  SharedOutputHistory history;
  // Before what runs on them (destroyed after), and stopped by Stop() before those are.
  std::unique_ptr<EventLoops> loops;
  std::unique_ptr<BeastUpstreamClient> anthropic;
  std::unique_ptr<BeastUpstreamClient> openai;
  std::optional<boost::asio::thread_pool> settle_pool;  // set with an authority
  std::optional<CallContext> context;                     // set by Start()
  std::unique_ptr<server::HttpServer> listener;
  std::unique_ptr<server::HttpServer> health;

  Mutex mu;
  CondVar idle;
  int in_flight GUARDED_BY(mu) = 0;
  bool stopped GUARDED_BY(mu) = false;

  Impl(Config c, const core::RateCard& r, Enforcer& e, Records& rec, ProviderKeys& k)
      : config(std::move(c)),
        rates(r),
        enforcer(e),
        records(rec),
        keys(k),
        allowlist(config.models_allowed, config.models_fallback, rates) {}

  Result<std::unique_ptr<BeastUpstreamClient>> MakeUpstream(const std::string& base) {
    BeastUpstreamOptions options;
    options.base_url = base;
    options.ca_file = config.upstream_ca_file;
    options.timeout = config.upstream_timeout;
    options.idle_timeout = config.upstream_idle_timeout;
    options.loops = loops.get();
    return BeastUpstreamClient::Create(std::move(options));
  }

  bool Stopping() EXCLUDES(mu) {
    MutexLock lock(mu);
    return stopped;
  }

  // GET /healthz, /readyz, /metrics and /v1/run; nullopt for any other path.
  std::optional<server::Response> LocalAnswer(const std::string& path) {
    if (path == "/healthz") {
      return server::Response::Json(200, json{{"status", "ok"}});
    }
    if (path == "/readyz") {
      const bool stopping = Stopping();
      return server::Response::Json(stopping ? 503 : 200,
                                    json{{"status", stopping ? "stopping" : "ready"}});
    }
    if (path == "/metrics") {
      server::Response r;
      r.headers["Content-Type"] = "text/plain; version=0.0.4";
      r.body = records.Exposition();
      return r;
    }
    if (path == "/v1/run") {
      const core::EnvelopeTotals totals = enforcer.totals();
      json limits = json::object();
      const core::EnvelopeLimits& l = enforcer.limits();
      if (l.max_cost) limits["maxCost"] = l.max_cost->ToString();
      if (l.max_tokens) limits["maxTokens"] = *l.max_tokens;
      if (l.max_requests) limits["maxRequests"] = *l.max_requests;
      if (l.max_identical_requests) limits["maxIdenticalRequests"] = *l.max_identical_requests;
      return server::Response::Json(200, json{{"run", config.run},
                                              {"spent", totals.spent.ToString()},
                                              {"reserved", totals.reserved.ToString()},
                                              {"tokens", totals.tokens},
                                              {"requests", totals.requests},
                                              {"pendingCommits", enforcer.PendingCommits()},
                                              {"limits", limits}});
    }
    return std::nullopt;
  }

  // Every POST (and any other method but GET) is proxied; GET is answered locally.
  server::Router ProxyRoutes() {
    server::Router router;
    router.Add("GET", "/", [this](const server::Request& r) {
      return LocalAnswer(r.path).value_or(NoSuchPath(r.path));
    });
    router.AddStream("*", "/", [this](server::Request&& request,
                                      std::shared_ptr<server::ResponseWriter> writer) {
      bool stopping = false;
      {
        MutexLock lock(mu);
        stopping = stopped;
        if (!stopping) {
          ++in_flight;
        }
      }
      if (stopping) {
        writer->Send(ProviderError(ApiOfPath(request.path), 503, "api_error", "unavailable",
                                   "agentbudget meter: stopping", false));
        return;
      }
      ProxyCall(*context, std::move(request), std::move(writer), [this] { CallFinished(); });
    });
    return router;
  }

  void CallFinished() EXCLUDES(mu) {
    MutexLock lock(mu);
    if (--in_flight == 0) {
      idle.SignalAll();
    }
  }

  // A refused request (too large, too slow, malformed) answered in the provider's shape.
  server::Response Refusal(int status, const std::string& message, std::string_view target) {
    const core::Api api = ApiOfPath(target);
    switch (status) {
      case 408:
        records.Rejected(api, "client_timeout");
        return ProviderError(api, 408, "invalid_request_error", "request_timeout",
                             "agentbudget meter: the request body was not received within " +
                                 std::to_string(config.client_timeout.count()) + " s",
                             false);
      case 413:
        records.Rejected(api, "too_large");
        return ProviderError(api, 413, "request_too_large", "request_too_large",
                             "agentbudget meter: request body exceeds the limit of " +
                                 std::to_string(config.max_request_bytes) + " bytes",
                             true);
      default:
        return ProviderError(api, status, status == 503 ? "overloaded_error" : "invalid_request_error",
                             status == 503 ? "unavailable" : "invalid_request",
                             "agentbudget meter: " + message, status != 503);
    }
  }

  // The health listener's routes: probes and metrics only, never the run's details.
  server::Router HealthRoutes() {
    server::Router router;
    for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
      router.Add("GET", path, [this](const server::Request& r) {
        return LocalAnswer(r.path).value_or(NoSuchPath(r.path));
      });
    }
    router.Add("*", "/", [](const server::Request& r) { return NoSuchPath(r.path); });
    return router;
  }
};

Proxy::Proxy(Config config, const core::RateCard& rates, Enforcer& enforcer, Records& records,
             ProviderKeys& keys)
    : impl_(std::make_unique<Impl>(std::move(config), rates, enforcer, records, keys)) {}

Proxy::~Proxy() { Stop(); }

Status Proxy::Start() {
  Impl& impl = *impl_;
  impl.loops = std::make_unique<EventLoops>(LoopCount(), "proxy");
  auto anthropic = impl.MakeUpstream(impl.config.anthropic_upstream);
  if (!anthropic.ok()) {
    return anthropic.error();
  }
  auto openai = impl.MakeUpstream(impl.config.openai_upstream);
  if (!openai.ok()) {
    return openai.error();
  }
  impl.anthropic = std::move(*anthropic);
  impl.openai = std::move(*openai);
  std::function<void(std::function<void()>)> settle = [](std::function<void()> step) {
    step();
  };
  if (!impl.config.authority_url.empty()) {
    impl.settle_pool.emplace(kSettleThreads);
    // One step per thread, each held until every thread took one: each names its own. The
    // latch is shared: a step may still be leaving its wait when this one returns.
    auto named = std::make_shared<std::latch>(kSettleThreads);
    for (size_t i = 0; i < kSettleThreads; ++i) {
      boost::asio::post(*impl.settle_pool, [named] {
        NameThread("settle");
        named->arrive_and_wait();
      });
    }
    named->wait();
    settle = [pool = &*impl.settle_pool](std::function<void()> step) {
      boost::asio::post(*pool, std::move(step));
    };
  }
  impl.context.emplace(CallContext{impl.config, impl.rates, impl.enforcer, impl.records,
                                   impl.keys, impl.allowlist, impl.history, *impl.anthropic,
                                   *impl.openai, *impl.loops, std::move(settle)});

  server::ServerOptions options;
  options.address = impl.config.listen_host;
  options.port = static_cast<uint16_t>(impl.config.listen_port);
  options.max_body_bytes = static_cast<size_t>(impl.config.max_request_bytes);
  options.request_timeout = impl.config.client_timeout;
  options.loops = impl.loops.get();
  options.refusal = [impl = &impl](int status, const std::string& message,
                                   std::string_view target) {
    return impl->Refusal(status, message, target);
  };
  auto listener = server::HttpServer::Start(std::move(options), impl.ProxyRoutes());
  if (!listener.ok()) {
    return listener.error();
  }
  impl.listener = std::move(listener).value();
  log::Info("meter listening", {{"address", impl.listener->url()}});
  if (impl.config.health_listen_host.empty()) {
    return OkStatus();
  }
  server::ServerOptions health_options;
  health_options.address = impl.config.health_listen_host;
  health_options.port = static_cast<uint16_t>(impl.config.health_listen_port);
  health_options.worker_threads = 1;
  auto health = server::HttpServer::Start(health_options, impl.HealthRoutes());
  if (!health.ok()) {
    return health.error();
  }
  impl.health = std::move(health).value();
  log::Info("health listening", {{"address", impl.health->url()}});
  return OkStatus();
}

void Proxy::Stop() {
  Impl& impl = *impl_;
  {
    MutexLock lock(impl.mu);
    if (impl.stopped) {
      return;
    }
    impl.stopped = true;
    // New calls are refused from now on; those in flight finish.
    impl.idle.Wait(impl.mu, [&impl]() REQUIRES(impl.mu) { return impl.in_flight == 0; });
  }
  // The loops first (a handler running now finishes), then what runs on them.
  if (impl.loops != nullptr) {
    impl.loops->Stop();
  }
  if (impl.listener != nullptr) {
    impl.listener->Stop();
  }
  if (impl.settle_pool) {
    impl.settle_pool->join();
  }
  // Last: /readyz answers "stopping" while calls in flight finish.
  if (impl.health != nullptr) {
    impl.health->Stop();
  }
}

}  // namespace agentbudget::meter
