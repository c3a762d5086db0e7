#include "meter/proxy.h"

#include <cpprest/http_client.h>
#include <cpprest/http_listener.h>
#include <cpprest/producerconsumerstream.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <future>
#include <thread>

#include "common/http_server.h"
#include "common/log.h"
#include "common/mutex.h"
#include "core/pricing.h"
#include "core/request_ceiling.h"
#include "core/request_estimate.h"
#include "core/sse_parser.h"
#include "core/stream_usage.h"
#include "meter/model_allowlist.h"
#include "meter/routes.h"
#include "meter/thread_cache.h"

namespace agentbudget::meter {
namespace {

namespace http = web::http;
namespace server = ::agentbudget::http;
using nlohmann::json;
using Buffer = concurrency::streams::producer_consumer_buffer<uint8_t>;

// Bytes a slow client may leave unread before the stream waits for it.
constexpr size_t kClientHighWater = 4 * 1024 * 1024;
constexpr size_t kReadChunk = 16 * 1024;

bool IsHopByHop(const std::string& lower) {
  return lower == "connection" || lower == "keep-alive" || lower == "transfer-encoding" ||
         lower == "te" || lower == "upgrade" || lower == "trailer" ||
         lower == "proxy-authorization" || lower == "proxy-authenticate" || lower == "host" ||
         lower == "content-length";
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

double MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

void ReplyJson(const http::http_request& request, http::status_code status, const json& body,
               bool no_retry) {
  http::http_response response(status);
  response.set_body(body.dump(), "application/json");
  if (no_retry) {
    // Honoured by the official SDKs: do not retry this answer.
    response.headers().add("x-should-retry", "false");
  }
  request.reply(response).then([](pplx::task<void> done) {
    try {
      done.get();
    } catch (const std::exception& e) {
      log::Warn("reply failed", {{"error", e.what()}});
    }
  });
}

void ReplyProviderError(const http::http_request& request, core::Api api,
                        http::status_code status, std::string_view type, std::string_view code,
                        const std::string& message, bool no_retry) {
  ReplyJson(request, status, ProviderErrorBody(api, type, code, message), no_retry);
}

}  // namespace

struct Proxy::Impl {
  Config config;
  const core::RateCard& rates;
  Enforcer& enforcer;
  Records& records;
  ProviderKeys& keys;
  std::unique_ptr<http::client::http_client> anthropic;
  std::unique_ptr<http::client::http_client> openai;
  std::unique_ptr<http::experimental::listener::http_listener> listener;
  std::unique_ptr<server::HttpServer> health;
  const ModelAllowlist allowlist;

  Mutex mu;
  CondVar idle;
  core::OutputHistory history GUARDED_BY(mu) = core::OutputHistory(core::kInitialTypicalOutput);
  int in_flight GUARDED_BY(mu) = 0;
  bool stopped GUARDED_BY(mu) = false;

  // Last, so destroyed first: its threads finish before anything they use goes away.
  ThreadCache threads{std::chrono::seconds(10)};

  Impl(Config c, const core::RateCard& r, Enforcer& e, Records& rec, ProviderKeys& k)
      : config(std::move(c)),
        rates(r),
        enforcer(e),
        records(rec),
        keys(k),
        allowlist(config.models_allowed, config.models_fallback, rates) {}

  Result<std::unique_ptr<http::client::http_client>> MakeUpstream(const std::string& base) {
    try {
      http::client::http_client_config client_config;
      client_config.set_timeout(config.upstream_timeout);
      if (!config.upstream_ca_file.empty()) {
        const std::string ca = config.upstream_ca_file;
        client_config.set_ssl_context_callback([ca](boost::asio::ssl::context& context) {
          context.set_default_verify_paths();
          context.load_verify_file(ca);
        });
      }
      return std::make_unique<http::client::http_client>(base, client_config);
    } catch (const std::exception& e) {
      return InvalidArgument("upstream \"" + base + "\": " + e.what());
    }
  }

  void Dispatch(http::http_request request) EXCLUDES(mu) {
    {
      MutexLock lock(mu);
      if (stopped) {
        return;
      }
      ++in_flight;
    }
    threads.Run([this, request]() mutable {
      try {
        Handle(request);
      } catch (const std::exception& e) {
        log::Error("request failed", {{"error", e.what()}});
      }
      MutexLock lock(mu);
      if (--in_flight == 0) {
        idle.SignalAll();
      }
    });
  }

  void Handle(http::http_request& request) {
    const std::string path = request.relative_uri().to_string();
    if (request.method() == http::methods::GET) {
      HandleLocal(request, path);
      return;
    }
    auto route = RouteFor(path);
    if (!route.ok()) {
      const core::Api api = path.rfind("/openai/", 0) == 0 ? core::Api::kOpenAIChat
                                                           : core::Api::kAnthropicMessages;
      ReplyProviderError(request, api, http::status_codes::NotFound, "not_found_error",
                         "not_found", route.error().message, true);
      return;
    }
    if (request.method() != http::methods::POST) {
      ReplyProviderError(request, route->api, http::status_codes::MethodNotAllowed,
                         "invalid_request_error", "method_not_allowed",
                         "agentbudget meter: only POST is proxied", true);
      return;
    }
    Forward(request, *route);
  }

  // GET /healthz, /readyz, /metrics and /v1/run; nullopt for any other path.
  std::optional<server::Response> LocalAnswer(const std::string& path) EXCLUDES(mu) {
    if (path == "/healthz") {
      return server::Response::Json(200, json{{"status", "ok"}});
    }
    if (path == "/readyz") {
      bool stopping = false;
      {
        MutexLock lock(mu);
        stopping = stopped;
      }
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

  static server::Response NoSuchPath(const std::string& path) {
    server::Response r = server::Response::Json(
        404, json{{"error", {{"message", "no such path: " + path}}}});
    r.headers["x-should-retry"] = "false";
    return r;
  }

  void HandleLocal(http::http_request& request, const std::string& path) {
    server::Response answer = LocalAnswer(path).value_or(NoSuchPath(path));
    http::http_response response(static_cast<http::status_code>(answer.status));
    for (const auto& [name, value] : answer.headers) {
      if (name != "Content-Type") {
        response.headers().add(name, value);
      }
    }
    response.set_body(std::move(answer.body), answer.headers["Content-Type"]);
    request.reply(response).then([](pplx::task<void> t) {
      try {
        t.get();
      } catch (const std::exception& e) {
        log::Debug("local reply not delivered", {{"error", e.what()}});
      }
    });
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

  // Reads the request body within the size limit; replies and returns nullopt otherwise.
  std::optional<std::vector<uint8_t>> ReadBody(http::http_request& request, core::Api api) {
    const auto& headers = request.headers();
    if (auto it = headers.find(http::header_names::content_encoding);
        it != headers.end() && Lower(it->second) != "identity") {
      records.Rejected(api, "encoding");
      ReplyProviderError(request, api, http::status_codes::UnsupportedMediaType,
                         "invalid_request_error", "unsupported_encoding",
                         "agentbudget meter: compressed request bodies (Content-Encoding: " +
                             it->second + ") are not supported; send identity",
                         true);
      return std::nullopt;
    }
    const uint64_t length = headers.content_length();
    if (length > static_cast<uint64_t>(config.max_request_bytes)) {
      records.Rejected(api, "too_large");
      ReplyProviderError(request, api, http::status_codes::RequestEntityTooLarge,
                         "request_too_large", "request_too_large",
                         "agentbudget meter: request body of " + std::to_string(length) +
                             " bytes exceeds the limit of " +
                             std::to_string(config.max_request_bytes),
                         true);
      return std::nullopt;
    }
    // Waits for the body at most client_timeout: a slow client must not hold the call.
    auto received = std::make_shared<std::promise<std::vector<uint8_t>>>();
    std::future<std::vector<uint8_t>> pending = received->get_future();
    request.extract_vector().then([received](pplx::task<std::vector<uint8_t>> read) {
      try {
        received->set_value(read.get());
      } catch (const std::exception&) {
        received->set_exception(std::current_exception());
      }
    });
    if (pending.wait_for(config.client_timeout) != std::future_status::ready) {
      records.Rejected(api, "client_timeout");
      ReplyProviderError(request, api, http::status_codes::RequestTimeout,
                         "invalid_request_error", "request_timeout",
                         "agentbudget meter: the request body was not received within " +
                             std::to_string(config.client_timeout.count()) + " s",
                         false);
      return std::nullopt;
    }
    std::vector<uint8_t> body = pending.get();
    if (body.size() > static_cast<size_t>(config.max_request_bytes)) {
      records.Rejected(api, "too_large");
      ReplyProviderError(request, api, http::status_codes::RequestEntityTooLarge,
                         "request_too_large", "request_too_large",
                         "agentbudget meter: request body exceeds the limit of " +
                             std::to_string(config.max_request_bytes) + " bytes",
                         true);
      return std::nullopt;
    }
    return body;
  }

  http::http_request UpstreamRequest(const http::http_request& request, const Route& route,
                                     std::vector<uint8_t>&& body) {
    http::http_request upstream(http::methods::POST);
    upstream.set_request_uri(route.upstream_path);
    const bool anthropic = route.api == core::Api::kAnthropicMessages;
    const bool custody = keys.Holds(route.api);
    for (const auto& [name, value] : request.headers()) {
      const std::string lower = Lower(name);
      if (IsHopByHop(lower) || lower == "accept-encoding" || lower == "content-encoding") {
        continue;
      }
      if (custody && (lower == "x-api-key" || lower == "authorization")) {
        continue;  // the agent's placeholder credential never leaves the pod
      }
      upstream.headers().add(name, value);
    }
    // Usage must be readable: ask for an uncompressed answer.
    upstream.headers().add(http::header_names::accept_encoding, "identity");
    if (const std::string key = custody ? keys.Key(route.api) : ""; !key.empty()) {
      if (anthropic) {
        upstream.headers().add("x-api-key", key);
      } else {
        upstream.headers().add(http::header_names::authorization, "Bearer " + key);
      }
    }
    const std::string content_type = request.headers().content_type();
    upstream.set_body(std::move(body));
    upstream.headers().set_content_type(content_type.empty() ? "application/json"
                                                             : content_type);
    return upstream;
  }

  void Forward(http::http_request& request, const Route& route) {
    const auto start = std::chrono::steady_clock::now();
    const core::Api api = route.api;
    auto body = ReadBody(request, api);
    if (!body) {
      return;
    }
    if (!route.metered) {
      ForwardUnmetered(request, route, std::move(*body));
      return;
    }
    json parsed = json::parse(body->begin(), body->end(), nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_object() || !parsed.contains("model") || !parsed["model"].is_string()) {
      records.Rejected(api, "malformed");
      ReplyProviderError(request, api, http::status_codes::BadRequest, "invalid_request_error",
                         "invalid_request",
                         "agentbudget meter: the request body must be a JSON object with a "
                         "string \"model\"",
                         true);
      return;
    }
    const std::string requested_model = parsed["model"].get<std::string>();
    const bool stream = parsed.contains("stream") && parsed["stream"].is_boolean() &&
                        parsed["stream"].get<bool>();
    if (const auto refusal = allowlist.Refusal(requested_model)) {
      records.Decision(api, "deny");
      log::Warn("call denied", {{"api", core::ApiName(api)}, {"model", requested_model},
                                {"reason", *refusal}});
      ReplyProviderError(request, api, http::status_codes::BadRequest, "invalid_request_error",
                         "model_not_allowed", "agentbudget: call denied: " + *refusal, true);
      return;
    }

    const core::CeilingOutcome ceiling = core::ApplyRequestCeiling(
        config.request, api, *rates.Resolve(requested_model).rate, body->size(), parsed);
    if (ceiling.refusal) {
      records.Rejected(api, "request_ceiling");
      ReplyProviderError(request, api, http::status_codes::BadRequest, "invalid_request_error",
                         "request_ceiling", "agentbudget: call denied: " + *ceiling.refusal, true);
      return;
    }
    int64_t typical_output = 0;
    {
      MutexLock lock(mu);
      typical_output = history.typical();
    }
    const core::Usage estimate = core::EstimateRequest(api, parsed, body->size(), typical_output);
    const core::ResolvedRate requested_rate = rates.Resolve(requested_model);
    const core::Money estimate_cost = core::PriceUsage(*requested_rate.rate, estimate);
    const uint64_t fingerprint =
        core::Fingerprint(std::string_view(reinterpret_cast<const char*>(body->data()),
                                           body->size()));
    const Admission admission = enforcer.Admit(core::ProviderName(api), requested_model,
                                               fingerprint, estimate_cost, estimate.Total());
    if (!admission.allowed) {
      records.Decision(api, "deny");
      log::Warn("call denied", {{"api", core::ApiName(api)}, {"model", requested_model},
                                {"reason", admission.reason}});
      ReplyProviderError(request, api, http::status_codes::BadRequest, "invalid_request_error",
                         "budget_exceeded", "agentbudget: call denied: " + admission.reason,
                         true);
      return;
    }
    records.Decision(api, admission.degraded ? "degrade" : "allow");

    bool rewrite = ceiling.clamped;
    if (admission.model != requested_model) {
      parsed["model"] = admission.model;
      rewrite = true;
    }
    bool strip_usage_chunk = false;
    if (api == core::Api::kOpenAIChat && stream) {
      json& options = parsed["stream_options"];
      if (!options.is_object()) {
        options = json::object();
      }
      if (!(options.contains("include_usage") && options["include_usage"].is_boolean() &&
            options["include_usage"].get<bool>())) {
        options["include_usage"] = true;
        strip_usage_chunk = true;
        rewrite = true;
      }
    }
    if (rewrite) {
      const std::string text = parsed.dump();
      body->assign(text.begin(), text.end());
    }

    CallRecord record;
    record.api = api;
    record.requested_model = requested_model;
    record.model = admission.model;
    record.model_id = rates.BoundedId(admission.model);
    record.degraded = admission.degraded;
    const core::ResolvedRate rate = rates.Resolve(admission.model);
    record.known_model = rate.known;

    http::client::http_client& client = api == core::Api::kAnthropicMessages ? *anthropic : *openai;
    http::http_response upstream;
    try {
      upstream = client.request(UpstreamRequest(request, route, std::move(*body))).get();
    } catch (const std::exception& e) {
      enforcer.Abandon(admission);
      // cpprestsdk reports its inactivity timer as errc::timed_out.
      const auto* failure = dynamic_cast<const http::http_exception*>(&e);
      const bool timeout =
          failure != nullptr && failure->error_code() == std::errc::timed_out;
      log::Warn("upstream unreachable", {{"api", core::ApiName(api)}, {"error", e.what()}});
      ReplyProviderError(request, api,
                         timeout ? http::status_codes::GatewayTimeout
                                 : http::status_codes::BadGateway,
                         "api_error", "upstream_unavailable",
                         std::string("agentbudget meter: upstream ") +
                             (timeout ? "timed out: " : "unreachable: ") + e.what(),
                         false);
      return;
    }
    record.status = upstream.status_code();
    if (record.status == http::status_codes::Unauthorized && keys.Holds(api)) {
      keys.Rejected(api);
    }
    const std::string content_type = upstream.headers().content_type();
    record.stream = content_type.find("text/event-stream") != std::string::npos;

    core::MeteredUsage metered;
    bool charge = false;
    if (record.stream) {
      charge = Stream(request, upstream, api, strip_usage_chunk, estimate.input, metered);
    } else {
      charge = Whole(request, upstream, api, estimate.input, metered);
    }
    if (!charge) {
      enforcer.Abandon(admission);
      return;
    }
    const core::Money cost = core::PriceUsage(*rate.rate, metered.usage);
    enforcer.Complete(admission, admission.model, metered.usage, cost, metered.estimated);
    {
      MutexLock lock(mu);
      history.Add(metered.usage.output);
    }
    record.usage = metered.usage;
    record.response_model = metered.response_model;
    record.estimated = metered.estimated;
    record.cost = cost.ToString();
    record.latency_ms = MillisSince(start);
    records.Call(record);
  }

  // Whether the upstream compressed its answer although asked for identity: such a body is
  // relayed unchanged, with its Content-Encoding, and its usage estimated.
  static bool Encoded(const http::http_response& upstream) {
    const auto& headers = upstream.headers();
    const auto it = headers.find(http::header_names::content_encoding);
    return it != headers.end() && Lower(it->second) != "identity";
  }

  static void CopyResponseHeaders(const http::http_response& from, http::http_response& to) {
    for (const auto& [name, value] : from.headers()) {
      const std::string lower = Lower(name);
      if (IsHopByHop(lower)) {
        continue;
      }
      to.headers().add(name, value);
    }
  }

  // Non-streaming answer: relayed whole. Returns whether the call is charged (2xx only:
  // providers do not bill failed requests).
  bool Whole(http::http_request& request, http::http_response& upstream, core::Api api,
             int64_t estimated_input, core::MeteredUsage& metered) {
    std::vector<uint8_t> body;
    bool cut = false;
    try {
      body = upstream.extract_vector().get();
    } catch (const std::exception& e) {
      cut = true;
      log::Warn("upstream body cut", {{"api", core::ApiName(api)}, {"error", e.what()}});
    }
    const bool success = upstream.status_code() / 100 == 2;
    if (success) {
      // Read the usage before the body is handed to the reply.
      auto usage = cut ? Result<core::Usage>(Internal("the upstream response was cut off"))
                       : core::UsageFromResponseBody(
                             api, std::string_view(reinterpret_cast<const char*>(body.data()),
                                                   body.size()));
      if (usage.ok()) {
        metered.usage = *usage;
        json parsed = json::parse(body.begin(), body.end(), nullptr, false);
        if (parsed.is_object() && parsed.contains("model") && parsed["model"].is_string()) {
          metered.response_model = parsed["model"].get<std::string>();
        }
      } else {
        metered.usage.input = estimated_input;
        metered.estimated = true;
        log::Warn("no usage in a successful answer; estimated",
                  {{"api", core::ApiName(api)}, {"error", usage.error().message}});
      }
    }
    if (cut) {
      ReplyProviderError(request, api, http::status_codes::BadGateway, "api_error",
                         "upstream_cut", "agentbudget meter: the upstream response was cut off",
                         false);
    } else {
      http::http_response response(upstream.status_code());
      CopyResponseHeaders(upstream, response);
      const std::string content_type = upstream.headers().content_type();
      response.set_body(std::move(body));
      response.headers().set_content_type(content_type);
      request.reply(response).then([](pplx::task<void> t) {
        try {
          t.get();
        } catch (const std::exception& e) {
          log::Warn("client went away", {{"error", e.what()}});
        }
      });
    }
    return success;
  }

  // Streamed answer: relayed event by event. Returns whether the call is charged.
  bool Stream(http::http_request& request, http::http_response& upstream, core::Api api,
              bool strip_usage_chunk, int64_t estimated_input, core::MeteredUsage& metered) {
    Buffer out;
    http::http_response response(upstream.status_code());
    CopyResponseHeaders(upstream, response);
    const std::string content_type = upstream.headers().content_type();
    response.set_body(concurrency::streams::istream(out));
    response.headers().set_content_type(content_type);
    auto replied = request.reply(response);

    const bool encoded = Encoded(upstream);
    core::SseParser parser;
    core::StreamUsageTracker tracker(api, strip_usage_chunk);
    auto in = upstream.body().streambuf();
    std::vector<uint8_t> chunk(kReadChunk);
    bool client_gone = false;
    bool cut = false;
    const auto write = [&](const std::string& bytes) {
      if (!client_gone && !bytes.empty()) {
        out.putn_nocopy(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()).get();
      }
    };
    try {
      while (true) {
        const size_t want = std::clamp<size_t>(in.in_avail(), 1, chunk.size());
        const size_t n = in.getn(chunk.data(), want).get();
        if (n == 0) {
          break;
        }
        const std::string_view bytes(reinterpret_cast<const char*>(chunk.data()), n);
        if (encoded) {
          write(std::string(bytes));
        } else if (Status fed = parser.Feed(bytes,
                                            [&](core::SseEvent&& event) {
                                              if (tracker.OnEvent(event)) {
                                                write(event.raw);
                                              }
                                            });
                   !fed.ok()) {
          log::Warn("malformed upstream stream", {{"error", fed.error().message}});
          cut = true;
          break;
        }
        if (!client_gone) {
          out.sync().get();
          client_gone = !WaitForClient(out, replied);
        }
      }
    } catch (const std::exception& e) {
      cut = true;
      log::Warn("upstream stream cut", {{"api", core::ApiName(api)}, {"error", e.what()}});
    }
    if (parser.HasPartialEvent()) {
      cut = true;
      write(parser.TakePartial());
    }
    if (cut) {
      // Fails the response body, so the listener drops the connection without the
      // terminating chunk: the client's SDK raises, as it would on the provider's own cut,
      // instead of taking a truncated stream for a complete answer.
      out.close(std::ios_base::out,
                std::make_exception_ptr(std::runtime_error("the upstream stream was cut")))
          .get();
    } else {
      out.close(std::ios_base::out).get();
    }
    try {
      replied.get();
    } catch (const std::exception& e) {
      log::Warn("client went away mid-stream", {{"error", e.what()}});
    }
    if (upstream.status_code() / 100 != 2) {
      return false;
    }
    metered = tracker.Finish(estimated_input);
    metered.estimated = metered.estimated || cut || encoded;
    return true;
  }

  // Applies back-pressure: waits while the client has more than the high-water mark
  // unread. Returns false when it stopped reading for longer than the upstream timeout
  // (or the reply failed): the rest of the stream is then read for metering only.
  bool WaitForClient(Buffer& out, const pplx::task<void>& replied) {
    const auto deadline = std::chrono::steady_clock::now() + config.upstream_timeout;
    while (out.in_avail() > kClientHighWater) {
      if (replied.is_done() || std::chrono::steady_clock::now() > deadline) {
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }

  void ForwardUnmetered(http::http_request& request, const Route& route,
                        std::vector<uint8_t>&& body) {
    http::client::http_client& client =
        route.api == core::Api::kAnthropicMessages ? *anthropic : *openai;
    try {
      http::http_response upstream =
          client.request(UpstreamRequest(request, route, std::move(body))).get();
      core::MeteredUsage ignored;
      Whole(request, upstream, route.api, 0, ignored);
    } catch (const std::exception& e) {
      ReplyProviderError(request, route.api, http::status_codes::BadGateway, "api_error",
                         "upstream_unavailable",
                         std::string("agentbudget meter: upstream unreachable: ") + e.what(),
                         false);
    }
  }
};

Proxy::Proxy(Config config, const core::RateCard& rates, Enforcer& enforcer, Records& records,
             ProviderKeys& keys)
    : impl_(std::make_unique<Impl>(std::move(config), rates, enforcer, records, keys)) {}

Proxy::~Proxy() { Stop(); }

Status Proxy::Start() {
  auto anthropic = impl_->MakeUpstream(impl_->config.anthropic_upstream);
  if (!anthropic.ok()) {
    return anthropic.error();
  }
  auto openai = impl_->MakeUpstream(impl_->config.openai_upstream);
  if (!openai.ok()) {
    return openai.error();
  }
  impl_->anthropic = std::move(*anthropic);
  impl_->openai = std::move(*openai);
  const std::string address = "http://" + impl_->config.listen_host + ":" +
                              std::to_string(impl_->config.listen_port);
  try {
    impl_->listener = std::make_unique<http::experimental::listener::http_listener>(address);
    impl_->listener->support([impl = impl_.get()](http::http_request request) {
      impl->Dispatch(std::move(request));
    });
    impl_->listener->open().get();
  } catch (const std::exception& e) {
    impl_->listener.reset();
    return Unavailable("listen on " + address + ": " + e.what());
  }
  log::Info("meter listening", {{"address", address}});
  if (impl_->config.health_listen_host.empty()) {
    return OkStatus();
  }
  server::ServerOptions health_options;
  health_options.address = impl_->config.health_listen_host;
  health_options.port = static_cast<uint16_t>(impl_->config.health_listen_port);
  health_options.worker_threads = 1;
  auto health = server::HttpServer::Start(health_options, impl_->HealthRoutes());
  if (!health.ok()) {
    return health.error();
  }
  impl_->health = std::move(health).value();
  log::Info("health listening", {{"address", impl_->health->url()}});
  return OkStatus();
}

void Proxy::Stop() {
  {
    MutexLock lock(impl_->mu);
    if (impl_->stopped) {
      return;
    }
    impl_->stopped = true;
  }
  const auto close = [](http::experimental::listener::http_listener* listener) {
    if (listener == nullptr) {
      return;
    }
    try {
      listener->close().get();
    } catch (const std::exception& e) {
      log::Warn("listener close failed", {{"error", e.what()}});
    }
  };
  close(impl_->listener.get());
  {
    MutexLock lock(impl_->mu);
    impl_->idle.Wait(impl_->mu, [this]() REQUIRES(impl_->mu) { return impl_->in_flight == 0; });
  }
  // Last: /readyz answers "stopping" while calls in flight finish.
  if (impl_->health != nullptr) {
    impl_->health->Stop();
  }
}

}  // namespace agentbudget::meter
