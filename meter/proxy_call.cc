#include "meter/proxy_call.h"

#include <strings.h>

#include <chrono>
#include <optional>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "core/pricing.h"
#include "core/request_ceiling.h"
#include "core/request_estimate.h"
#include "core/request_summary.h"
#include "core/sse_parser.h"
#include "core/stream_usage.h"
#include "meter/routes.h"

namespace agentbudget::meter {
namespace {

using nlohmann::json;

bool Is(std::string_view name, std::string_view other) {
  return name.size() == other.size() && ::strncasecmp(name.data(), other.data(), name.size()) == 0;
}

bool IsHopByHop(std::string_view name) {
  for (std::string_view hop : {"connection", "keep-alive", "transfer-encoding", "te", "upgrade",
                               "trailer", "proxy-authorization", "proxy-authenticate", "host",
                               "content-length"}) {
    if (Is(name, hop)) {
      return true;
    }
  }
  return false;
}

// Whether `headers` name a Content-Encoding other than identity.
bool Encoded(const http::Headers& headers) {
  const auto it = headers.find("Content-Encoding");
  return it != headers.end() && !Is(it->second, "identity");
}

// `from` less its hop-by-hop fields.
http::Headers RelayedHeaders(http::Headers&& from) {
  std::erase_if(from, [](const auto& header) { return IsHopByHop(header.first); });
  return std::move(from);
}

double MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// One proxied call. Its steps run one after another (each started by the completion of the
// previous), on whichever thread completed it, so its members need no lock.
class Call : public std::enable_shared_from_this<Call> {
 public:
  Call(const CallContext& context, http::Request&& request,
       std::shared_ptr<http::ResponseWriter> writer, std::function<void()> finished)
      : c_(context),
        request_(std::move(request)),
        writer_(std::move(writer)),
        finished_(std::move(finished)),
        start_(std::chrono::steady_clock::now()),
        loop_(context.loops.Current()) {}

  // Lets go of the client's connection and the upstream's before saying it is finished.
  ~Call() {
    upstream_body_.reset();
    writer_.reset();
    finished_();
  }

  void Run() {
    const std::string target =
        request_.query.empty() ? request_.path : request_.path + "?" + request_.query;
    auto route = RouteFor(target);
    if (!route.ok()) {
      Reply(ProviderError(ApiOfPath(request_.path), 404, "not_found_error", "not_found",
                          route.error().message, true));
      return;
    }
    route_ = std::move(*route);
    api_ = route_.api;
    if (request_.method != "POST") {
      Reply(ProviderError(api_, 405, "invalid_request_error", "method_not_allowed",
                          "agentbudget meter: only POST is proxied", true));
      return;
    }
    if (const std::string encoding = request_.Header("Content-Encoding");
        !encoding.empty() && !Is(encoding, "identity")) {
      c_.records.Rejected(api_, "encoding");
      Reply(ProviderError(api_, 415, "invalid_request_error", "unsupported_encoding",
                          "agentbudget meter: compressed request bodies (Content-Encoding: " +
                              encoding + ") are not supported; send identity",
                          true));
      return;
    }
    if (!route_.metered) {
      Send([self = shared_from_this()](UpstreamOutcome&& outcome) {
        self->OnUnmeteredResponse(std::move(outcome));
      });
      return;
    }
    Admit();
  }

 private:
  void Reply(http::Response&& response) { writer_->Send(std::move(response)); }

  void Admit() {
    // What the rules read of the body; the conversation, most of its bytes, is not parsed.
    auto read = core::SummariseRequest(request_.body);
    json summary = read.ok() ? std::move(*read) : json();
    if (!summary.is_object() || !summary.contains("model") || !summary["model"].is_string()) {
      c_.records.Rejected(api_, "malformed");
      Reply(ProviderError(api_, 400, "invalid_request_error", "invalid_request",
                          "agentbudget meter: the request body must be a JSON object with a "
                          "string \"model\"" +
                              (read.ok() ? std::string() : ": " + read.error().message),
                          true));
      return;
    }
    requested_model_ = summary["model"].get<std::string>();
    const bool stream = summary.contains("stream") && summary["stream"].is_boolean() &&
                        summary["stream"].get<bool>();
    if (const auto refusal = c_.allowlist.Refusal(requested_model_)) {
      c_.records.Decision(api_, "deny");
      log::Warn("call denied", {{"api", core::ApiName(api_)}, {"model", requested_model_},
                                {"reason", *refusal}});
      Reply(ProviderError(api_, 400, "invalid_request_error", "model_not_allowed",
                          "agentbudget: call denied: " + *refusal, true));
      return;
    }
    const core::ResolvedRate requested_rate = c_.rates.Resolve(requested_model_);
    const core::CeilingOutcome ceiling = core::ApplyRequestCeiling(
        c_.config.request, api_, *requested_rate.rate, request_.body.size(), summary);
    if (ceiling.refusal) {
      c_.records.Rejected(api_, "request_ceiling");
      Reply(ProviderError(api_, 400, "invalid_request_error", "request_ceiling",
                          "agentbudget: call denied: " + *ceiling.refusal, true));
      return;
    }
    clamped_ = ceiling.clamped;
    estimate_ =
        core::EstimateRequest(api_, summary, request_.body.size(), c_.history.typical());
    const core::Money estimate_cost = core::PriceUsage(*requested_rate.rate, estimate_);
    // Only the retry-loop guard reads the fingerprint: a hash of the whole body.
    const uint64_t fingerprint =
        c_.enforcer.limits().max_identical_requests ? core::Fingerprint(request_.body) : 0;
    c_.enforcer.Admit(
        core::ProviderName(api_), requested_model_, fingerprint, estimate_cost,
        estimate_.Total(),
        [self = shared_from_this(), summary = std::move(summary), stream](
            Admission admission) mutable {
          // Back on the client connection's loop (at once when the admission was decided
          // there): the upstream exchange starts on the caller's loop, and then relays
          // without a hop.
          boost::asio::dispatch(
              self->c_.loops.loop(self->loop_),
              [self, admission = std::move(admission), summary = std::move(summary),
               stream]() mutable {
                self->admission_ = std::move(admission);
                self->Forward(summary, stream);
              });
        });
  }

  // Whether an OpenAI Chat stream asks for its usage already (stream_options.include_usage).
  static bool IncludesUsage(const json& summary) {
    const auto options = summary.find("stream_options");
    if (options == summary.end() || !options->is_object()) {
      return false;
    }
    const auto include = options->find("include_usage");
    return include != options->end() && include->is_boolean() && include->get<bool>();
  }

  // Changes the body: the output cap the ceiling clamped (in `summary`), the model the
  // authority chose instead, and an OpenAI Chat stream made to report usage. The body is
  // parsed whole, but for the usual case of a stream without stream_options, whose text
  // only gains a first member.
  void Rewrite(const json& summary, bool degraded) {
    if (strip_usage_chunk_ && !clamped_ && !degraded && !summary.contains("stream_options")) {
      request_.body = core::WithFirstMember(request_.body, "stream_options",
                                            {{"include_usage", true}});
      return;
    }
    json body = json::parse(request_.body);  // an object: its summary was read
    if (clamped_) {
      const char* field = core::OutputCapField(api_, summary);
      body[field] = summary.at(field);
    }
    if (degraded) {
      body["model"] = admission_.model;
    }
    if (strip_usage_chunk_) {
      json& options = body["stream_options"];
      if (!options.is_object()) {
        options = json::object();
      }
      options["include_usage"] = true;
    }
    request_.body = body.dump();
  }

  void Forward(const json& summary, bool stream) {
    if (!admission_.allowed) {
      c_.records.Decision(api_, "deny");
      log::Warn("call denied", {{"api", core::ApiName(api_)}, {"model", requested_model_},
                                {"reason", admission_.reason}});
      Reply(ProviderError(api_, 400, "invalid_request_error", "budget_exceeded",
                          "agentbudget: call denied: " + admission_.reason, true));
      return;
    }
    c_.records.Decision(api_, admission_.degraded ? "degrade" : "allow");
    const bool degraded = admission_.model != requested_model_;
    strip_usage_chunk_ = api_ == core::Api::kOpenAIChat && stream && !IncludesUsage(summary);
    if (clamped_ || degraded || strip_usage_chunk_) {
      Rewrite(summary, degraded);
    }
    record_.api = api_;
    record_.requested_model = requested_model_;
    record_.model = admission_.model;
    record_.model_id = c_.rates.BoundedId(admission_.model);
    record_.degraded = admission_.degraded;
    record_.known_model = c_.rates.Resolve(admission_.model).known;
    Send([self = shared_from_this()](UpstreamOutcome&& outcome) {
      self->OnResponse(std::move(outcome));
    });
  }

  // Sends the request upstream with the provider's key in place of the agent's. The
  // client's headers are handed on, not copied: the call reads them no more.
  void Send(std::function<void(UpstreamOutcome&&)> next) {
    UpstreamRequest upstream;
    upstream.target = route_.upstream_path;
    const bool custody = c_.keys.Holds(api_);
    upstream.headers = std::move(request_.headers);
    std::erase_if(upstream.headers, [custody](const auto& header) {
      const std::string& name = header.first;
      // The meter read the body already: the client's Expect: 100-continue is answered.
      // The agent's placeholder credential never leaves the pod.
      return IsHopByHop(name) || Is(name, "accept-encoding") || Is(name, "content-encoding") ||
             Is(name, "expect") ||
             (custody && (Is(name, "x-api-key") || Is(name, "authorization")));
    });
    // Usage must be readable: ask for an uncompressed answer.
    upstream.headers["Accept-Encoding"] = "identity";
    if (const std::string key = custody ? c_.keys.Key(api_) : ""; !key.empty()) {
      if (api_ == core::Api::kAnthropicMessages) {
        upstream.headers["x-api-key"] = key;
      } else {
        upstream.headers["Authorization"] = "Bearer " + key;
      }
    }
    if (upstream.headers.find("Content-Type") == upstream.headers.end()) {
      upstream.headers["Content-Type"] = "application/json";
    }
    upstream.body = std::move(request_.body);
    UpstreamClient& client =
        api_ == core::Api::kAnthropicMessages ? c_.anthropic : c_.openai;
    client.Send(std::move(upstream), [next = std::move(next)](UpstreamOutcome outcome) {
      next(std::move(outcome));
    });
  }

  void ReplyUnreachable(const UpstreamFailure& failure) {
    const bool timeout = failure.error.code == ErrorCode::kDeadlineExceeded;
    log::Warn("upstream unreachable",
              {{"api", core::ApiName(api_)}, {"error", failure.error.message}});
    Reply(ProviderError(api_, timeout ? 504 : 502, "api_error", "upstream_unavailable",
                        std::string("agentbudget meter: upstream ") +
                            (timeout ? "timed out: " : "unreachable: ") + failure.error.message,
                        false));
  }

  void OnUnmeteredResponse(UpstreamOutcome&& outcome) {
    if (!outcome.response) {
      ReplyUnreachable(outcome.failure);
      return;
    }
    Relay(std::move(*outcome.response), /*metered=*/false);
  }

  void OnResponse(UpstreamOutcome&& outcome) {
    if (!outcome.response) {
      const bool sent = outcome.failure.sent;
      ReplyUnreachable(outcome.failure);
      Settle([self = shared_from_this(), sent] {
        if (sent) {
          self->c_.enforcer.Abandon(self->admission_);
        } else {
          self->c_.enforcer.AbandonUnsent(self->admission_);
        }
      });
      return;
    }
    record_.status = outcome.response->status;
    if (record_.status == 401 && c_.keys.Holds(api_)) {
      c_.keys.Rejected(api_);
    }
    Relay(std::move(*outcome.response), /*metered=*/true);
  }

  void Relay(UpstreamResponse&& response, bool metered) {
    metered_ = metered;
    status_ = response.status;
    encoded_ = Encoded(response.headers);
    upstream_body_ = std::move(response.body);
    const auto type = response.headers.find("Content-Type");
    record_.stream = type != response.headers.end() &&
                     type->second.find("text/event-stream") != std::string::npos;
    headers_ = RelayedHeaders(std::move(response.headers));
    if (!record_.stream) {
      ReadWhole();
      return;
    }
    tracker_.emplace(api_, strip_usage_chunk_);
    if (upstream_body_->buffered()) {
      // The first events came with the headers: they go to the client together.
      ReadStream();
      return;
    }
    BeginStream({});
  }

  // The status line and headers of the streamed answer, with its first events if any.
  void BeginStream(std::string&& first) {
    begun_ = true;
    writer_->Begin(status_, std::move(headers_), std::move(first),
                   [self = shared_from_this()](bool written) {
                     self->client_gone_ = !written;
                     self->ReadStream();
                   });
  }

  // Non-streaming answer: read whole, then relayed. Charged for a 2xx only: providers do not
  // bill failed requests.
  void ReadWhole() {
    upstream_body_->Read([self = shared_from_this()](Result<std::string_view> bytes) {
      if (!bytes.ok()) {
        log::Warn("upstream body cut",
                  {{"api", core::ApiName(self->api_)}, {"error", bytes.error().message}});
        self->Reply(ProviderError(self->api_, 502, "api_error", "upstream_cut",
                                  "agentbudget meter: the upstream response was cut off",
                                  false));
        self->FinishWhole(/*cut=*/true);
        return;
      }
      if (self->body_.size() + bytes->size() >
          static_cast<uint64_t>(self->c_.config.max_answer_bytes)) {
        const std::string limit = std::to_string(self->c_.config.max_answer_bytes);
        log::Warn("upstream answer over --max-answer-bytes; not relayed",
                  {{"api", core::ApiName(self->api_)}, {"limit", limit}});
        self->Reply(ProviderError(self->api_, 502, "api_error", "upstream_answer_too_large",
                                  "agentbudget meter: the non-streaming answer exceeds the "
                                  "limit of " + limit + " bytes (--max-answer-bytes); ask for "
                                  "a stream",
                                  true));
        self->FinishWhole(/*cut=*/true);
        return;
      }
      if (!bytes->empty()) {
        self->body_.append(*bytes);
        self->ReadWhole();
        return;
      }
      self->FinishWhole(/*cut=*/false);
    });
  }

  void FinishWhole(bool cut) {
    upstream_body_.reset();
    const bool success = status_ / 100 == 2;
    core::MeteredUsage metered;
    if (metered_ && success) {
      using Read = Result<core::ResponseUsage>;
      auto read = cut        ? Read(Internal("the upstream response was cut off"))
                  : encoded_ ? Read(Internal("the answer is compressed"))
                             : core::UsageFromResponseBody(api_, body_);
      if (read.ok()) {
        metered.usage = read->usage;
        metered.response_model = std::move(read->model);
      } else {
        metered.usage.input = estimate_.input;
        metered.estimated = true;
        log::Warn("no usage in a successful answer; estimated",
                  {{"api", core::ApiName(api_)}, {"error", read.error().message}});
      }
    }
    if (!cut) {
      http::Response response;
      response.status = status_;
      response.headers = std::move(headers_);
      response.body = std::move(body_);
      Reply(std::move(response));
    }
    if (metered_) {
      Charge(success, std::move(metered));
    }
  }

  // Streamed answer: each piece read is relayed once parsed into whole events, and the next
  // read starts only once the client took it.
  void ReadStream() {
    upstream_body_->Read([self = shared_from_this()](Result<std::string_view> bytes) {
      self->OnStreamBytes(std::move(bytes));
    });
  }

  void OnStreamBytes(Result<std::string_view>&& bytes) {
    if (!bytes.ok()) {
      log::Warn("upstream stream cut",
                {{"api", core::ApiName(api_)}, {"error", bytes.error().message}});
      EndStream(/*cut=*/true, {});
      return;
    }
    if (bytes->empty()) {
      EndStream(/*cut=*/false, {});
      return;
    }
    std::string out;
    // The events relayed are the bytes read, less any withheld, plus those of an event begun
    // in an earlier piece: one allocation in the common case.
    out.reserve(bytes->size());
    if (encoded_) {
      out.assign(*bytes);
    } else if (Status fed = parser_.Feed(*bytes,
                                         [&](const core::SseEvent& event) {
                                           if (tracker_->OnEvent(event)) {
                                             out.append(event.raw);
                                           }
                                         });
               !fed.ok()) {
      log::Warn("malformed upstream stream", {{"error", fed.error().message}});
      EndStream(/*cut=*/true, {});
      return;
    }
    // The body's last bytes end the answer in the same write as its terminating chunk.
    const bool ended = upstream_body_->ended();
    if (!begun_) {
      if (ended) {
        EndStream(/*cut=*/false, std::move(out));
      } else {
        BeginStream(std::move(out));
      }
      return;
    }
    if (ended) {
      EndStream(/*cut=*/false, client_gone_ ? std::string() : std::move(out));
      return;
    }
    if (client_gone_ || out.empty()) {
      ReadStream();
      return;
    }
    writer_->Write(std::move(out), [self = shared_from_this()](bool written) {
      // A client gone (or not reading within the client timeout) no longer gets the stream;
      // the rest is read for metering only.
      self->client_gone_ = !written;
      self->ReadStream();
    });
  }

  // Ends the client's answer (with `last`, the events read last), then charges the call.
  // An answer cut by the provider, or ending mid-event, is cut for the client too: without
  // the terminating chunk, so that the client's SDK raises, as it would on the provider's
  // own cut, instead of taking a truncated stream for a complete answer.
  void EndStream(bool cut, std::string&& last) {
    upstream_body_.reset();
    if (parser_.HasPartialEvent()) {
      cut = true;
      parser_.TakePartial();
    }
    if (cut) {
      // The events read last are passed on before the cut.
      auto abort = [writer = writer_](bool) { writer->Abort(); };
      if (begun_) {
        writer_->Write(std::move(last), std::move(abort));
      } else {
        writer_->Begin(status_, std::move(headers_), std::move(last), std::move(abort));
      }
    } else if (begun_) {
      writer_->End(std::move(last));
    } else {
      // The whole answer came with its headers: it goes to the client whole, in one write
      // (framed by a Content-Length, which an event-stream reader takes as it takes chunks),
      // rather than as a chunk and then the terminating chunk.
      http::Response whole;
      whole.status = status_;
      whole.headers = std::move(headers_);
      whole.body = std::move(last);
      Reply(std::move(whole));
    }
    const bool success = status_ / 100 == 2;
    core::MeteredUsage metered;
    if (success) {
      metered = tracker_->Finish(estimate_.input);
      metered.estimated = metered.estimated || cut || encoded_;
    }
    Charge(success, std::move(metered));
  }

  // Commits the call's usage, then records it, on the loop (neither blocks); or releases it
  // when not charged.
  void Charge(bool charge, core::MeteredUsage&& metered) {
    if (!charge) {
      Settle([self = shared_from_this()] { self->c_.enforcer.Abandon(self->admission_); });
      return;
    }
    const core::ResolvedRate rate = c_.rates.Resolve(admission_.model);
    const core::Money cost = core::PriceUsage(*rate.rate, metered.usage);
    c_.history.Add(metered.usage.output);
    record_.usage = metered.usage;
    record_.response_model = metered.response_model;
    record_.estimated = metered.estimated;
    record_.cost = cost.ToString();
    record_.latency_ms = MillisSince(start_);
    writer_.reset();  // the client's answer ends first; the commit only queues for the spool
    c_.enforcer.Complete(admission_, admission_.model, metered.usage, cost, metered.estimated);
    c_.records.Call(record_);
  }

  // Runs the release of this call's reservation off the event loop.
  void Settle(std::function<void()> step) {
    writer_.reset();
    c_.settle(std::move(step));
  }

  const CallContext& c_;
  http::Request request_;
  std::shared_ptr<http::ResponseWriter> writer_;
  const std::function<void()> finished_;
  const std::chrono::steady_clock::time_point start_;
  const size_t loop_;  // the loop of the client's connection
  Route route_;
  core::Api api_ = core::Api::kAnthropicMessages;
  std::string requested_model_;
  core::Usage estimate_;
  Admission admission_;
  bool strip_usage_chunk_ = false;
  bool clamped_ = false;  // the request ceiling lowered or added the output cap
  CallRecord record_;
  // The answer being relayed.
  bool metered_ = false;
  int status_ = 0;
  bool encoded_ = false;
  http::Headers headers_;
  std::unique_ptr<UpstreamBody> upstream_body_;
  std::string body_;  // a non-streaming answer, read whole
  core::SseParser parser_;
  std::optional<core::StreamUsageTracker> tracker_;
  bool begun_ = false;  // the streamed answer's headers were handed to the writer
  bool client_gone_ = false;
};

}  // namespace

http::Response ProviderError(core::Api api, int status, std::string_view type,
                             std::string_view code, const std::string& message, bool no_retry) {
  http::Response response =
      http::Response::Json(status, ProviderErrorBody(api, type, code, message));
  if (no_retry) {
    response.headers["x-should-retry"] = "false";
  }
  return response;
}

core::Api ApiOfPath(std::string_view path) {
  return path.starts_with("/openai/") ? core::Api::kOpenAIChat : core::Api::kAnthropicMessages;
}

void ProxyCall(const CallContext& context, http::Request&& request,
               std::shared_ptr<http::ResponseWriter> writer, std::function<void()> finished) {
  std::make_shared<Call>(context, std::move(request), std::move(writer), std::move(finished))
      ->Run();
}

}  // namespace agentbudget::meter
