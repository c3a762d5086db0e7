#include "meter/http_authority_client.h"

#include <algorithm>
#include <cctype>
#include <deque>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <sstream>
#include <variant>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "common/event_loops.h"
#include "meter/beast_upstream_client.h"

namespace agentbudget::meter {
namespace {

using nlohmann::json;

// The protocol's answers are small; a larger one is refused rather than buffered.
constexpr size_t kMaxAnswerBytes = 1 << 20;
// Calls open at once, and idle connections kept: as many as the meter's 4 release threads,
// its 8 senders (meter::Enforcer::Options::senders) and a few reservations in flight;
// further calls wait for one to end.
constexpr size_t kMaxOpenCalls = 16;
// A whole call (resolve, connect, TLS, request, answer) takes at most this many timeouts.
constexpr int kTimeoutsPerCall = 4;
// The protocol's answers are small (a batch's of kMaxBatch writes, about 10 KB): a call in
// flight holds two read buffers, of this size rather than the providers' 16 KiB.
constexpr size_t kReadBuffer = 4 * 1024;

std::string ReadToken(const std::string& path) {
  if (path.empty()) {
    return "";
  }
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  std::string token = text.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  return token;
}

std::string Str(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool IsTrue(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

// Whether `id` may stand in a request path as one segment (a commit or release names its
// reservation there): the authority's ids are "r-" and hex digits.
bool IsPathSegment(const std::string& id) {
  if (id.size() > 64) {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

// An answer read whole: its status and body.
struct Answer {
  int status = 0;
  std::string body;
};

// Reads a response's body to its end on the client's loop, then hands over the answer.
class Collector : public std::enable_shared_from_this<Collector> {
 public:
  using Done = std::function<void(Result<Answer>)>;

  Collector(UpstreamResponse&& response, Done done)
      : body_(std::move(response.body)), done_(std::move(done)) {
    answer_.status = response.status;
  }

  void Next() {
    body_->Read([self = shared_from_this()](Result<std::string_view> bytes) {
      if (!bytes.ok()) {
        self->Finish(std::move(bytes).error());
      } else if (bytes->empty()) {
        self->Finish(std::move(self->answer_));
      } else if (self->answer_.body.size() + bytes->size() > kMaxAnswerBytes) {
        self->Finish(Unavailable("answer larger than 1 MiB"));
      } else {
        self->answer_.body.append(*bytes);
        self->Next();
      }
    });
  }

 private:
  // The body goes first, so that the caller, once answered, may destroy the client.
  void Finish(Result<Answer> result) {
    body_.reset();
    done_(std::move(result));
  }

  std::unique_ptr<UpstreamBody> body_;
  const Done done_;
  Answer answer_;
};

// One call's answer: whichever comes first of the authority's and the whole call's
// deadline reaches `done`. Lives on the client's one loop, so it needs no lock.
struct PendingCall {
  PendingCall(boost::asio::io_context& loop, std::function<void(Result<Answer>)> d)
      : deadline(loop), done(std::move(d)) {}
  void Finish(Result<Answer> answer) {
    if (done) {
      deadline.cancel();
      std::exchange(done, nullptr)(std::move(answer));
    }
  }
  boost::asio::steady_timer deadline;
  std::function<void(Result<Answer>)> done;
};

// The error a call of `path` answered with `status` and the body `parsed` (discarded when
// not JSON) stands for; none for a 200 JSON object. `text` gives the body as sent, quoted
// when it names no message.
std::optional<Error> ProtocolError(const std::string& path, int status, const json& parsed,
                                   const std::function<std::string()>& text) {
  if (status != 200) {
    std::string message;
    if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object() &&
        !Str(parsed["error"], "message").empty()) {
      message = Str(parsed["error"], "message");
    } else {
      message = text().substr(0, 512);
    }
    return MakeError(ErrorCodeForHttpStatus(status),
                     "authority " + path + ": HTTP " + std::to_string(status) + ": " + message);
  }
  if (!parsed.is_object()) {
    return Internal("authority " + path + ": answer is not a JSON object");
  }
  return std::nullopt;
}

// The protocol's answer to a call of `path`: the parsed 200 body, or the error its status
// and body name.
Result<json> Interpret(const std::string& path, int status, const std::string& body) {
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (std::optional<Error> error = ProtocolError(path, status, parsed, [&body] { return body; })) {
    return *std::move(error);
  }
  return parsed;
}

// A write as the single call it stands for: its path and body.
struct WriteCall {
  std::string path;
  json body;
};

WriteCall CallOf(const ReserveRequest& request) {
  json body{{"idempotencyKey", request.idempotency_key},
            {"provider", request.provider},
            {"model", request.model},
            {"estimate",
             {{"cost", request.estimate_cost.ToString()}, {"tokens", request.estimate_tokens}}}};
  if (request.ahead) {
    body["ahead"] = true;
  }
  return {"/v1/reservations", std::move(body)};
}

WriteCall CallOf(const CommitRequest& request) {
  return {"/v1/reservations/" + request.reservation_id + "/commit",
          json{{"idempotencyKey", request.idempotency_key},
               {"model", request.model},
               {"usage", core::UsageToJson(request.usage)},
               {"cost", request.cost.ToString()},
               {"estimated", request.estimated}}};
}

WriteCall CallOf(const EventRequest& request) {
  return {"/v1/events", json{{"idempotencyKey", request.idempotency_key},
                             {"kind", request.kind},
                             {"cost", request.cost.ToString()},
                             {"tokens", request.tokens},
                             {"description", request.description}}};
}

// What a commit or event call's 200 answer means: acknowledged only when it says committed.
Status Acknowledged(const json& answer, const char* what) {
  if (!IsTrue(answer, "committed")) {
    return Internal(std::string("authority ") + what + ": answer does not say committed");
  }
  return OkStatus();
}

Status Acknowledged(const Result<json>& answer, const char* what) {
  return answer.ok() ? Acknowledged(*answer, what) : Status(answer.error());
}

// The reservation an answer to POST /v1/reservations for `model` grants.
Result<Reservation> ReservationOf(const Result<json>& answer, const std::string& model) {
  if (!answer.ok()) {
    return answer.error();
  }
  const json& a = *answer;
  Reservation out;
  out.id = Str(a, "id");
  const std::string decision = Str(a, "decision");
  if (decision == "allow") {
    out.decision = Decision::kAllow;
  } else if (decision == "degrade") {
    out.decision = Decision::kDegrade;
  } else if (decision == "deny") {
    out.decision = Decision::kDeny;
  } else {
    return Internal("authority reservation: unknown decision \"" + decision + "\"");
  }
  out.model = Str(a, "model").empty() ? model : Str(a, "model");
  out.reason = Str(a, "reason");
  if (out.id.empty() && out.decision != Decision::kDeny) {
    return Internal("authority reservation: answer has no id");
  }
  if (!IsPathSegment(out.id)) {
    return Internal("authority reservation: id \"" + out.id.substr(0, 64) +
                    "\" is not 1..64 letters, digits, '.', '_' or '-'");
  }
  return out;
}

WriteCall CallOf(const Write& write) {
  return std::visit([](const auto& request) { return CallOf(request); }, write);
}

// The body of a POST /v1/batch of `requests` (ReserveRequest or Write), written as text one
// request at a time, byte for byte as a document of the whole batch would dump it: such a
// document of up to kMaxBatch writes, built by every sender at once, was the largest part of
// what the authority path added to the meter's heap. `paths` gets each request's path, to
// read the answers with.
template <typename Requests>
std::string BatchBody(const Requests& requests, std::vector<std::string>& paths) {
  paths.reserve(requests.size());
  std::string body = R"({"requests":[)";
  for (const auto& request : requests) {
    WriteCall call = CallOf(request);
    body += paths.empty() ? R"({"body":)" : R"(,{"body":)";
    body += call.body.dump();
    body += R"(,"path":)";
    body += json(call.path).dump();
    body += '}';
    paths.push_back(std::move(call.path));
  }
  body += "]}";
  return body;
}

// The answer to each request of `paths` in `answer`, a POST /v1/batch's 200 body: the body
// each got, or the protocol error it names.
Result<std::vector<Result<json>>> BatchAnswersOf(const json& answer,
                                                 const std::vector<std::string>& paths) {
  const auto answers = answer.find("answers");
  if (answers == answer.end() || !answers->is_array() || answers->size() != paths.size()) {
    return Internal("authority /v1/batch: answer does not hold one answer per request");
  }
  std::vector<Result<json>> out;
  out.reserve(paths.size());
  for (size_t i = 0; i < paths.size(); ++i) {
    const json& one = (*answers)[i];
    const auto status = one.is_object() ? one.find("status") : one.end();
    const auto body = one.is_object() ? one.find("body") : one.end();
    if (status == one.end() || !status->is_number_integer() || body == one.end()) {
      out.push_back(Internal("authority /v1/batch: malformed answer " + std::to_string(i)));
    } else if (std::optional<Error> error = ProtocolError(
                   paths[i], status->get<int>(), *body, [&body] { return body->dump(); })) {
      out.push_back(*std::move(error));
    } else {
      out.push_back(*body);
    }
  }
  return out;
}

}  // namespace

struct HttpAuthorityClient::Impl {
  Options options;
  // The client's one loop; stopped (by the destructor) before the client is destroyed.
  std::unique_ptr<EventLoops> loop;
  std::unique_ptr<BeastUpstreamClient> client;
  // On the loop only: the calls sent and not ended, and those waiting for their turn.
  size_t open_calls = 0;
  std::deque<std::pair<std::shared_ptr<PendingCall>, UpstreamRequest>> waiting;

  ~Impl() { loop->Stop(); }

  // POSTs the JSON text `body` to `path`; returns the parsed 200 body or the protocol error.
  Result<json> Post(const std::string& path, std::string body) {
    return Call("POST", path, std::move(body));
  }

  // Sends `method` to `path` with the JSON text `body` (none when empty) and waits for the
  // answer; returns the parsed 200 body or the protocol error. The answer is parsed on the
  // calling thread, so that a large one (a batch's) never holds the loop that reservations
  // are answered on.
  Result<json> Call(const char* method, const std::string& path, std::string body) {
    std::promise<Result<Answer>> promise;
    std::future<Result<Answer>> future = promise.get_future();
    Exchange(method, path, std::move(body), kWriteTimeout,
             [&promise](Result<Answer> answer) { promise.set_value(std::move(answer)); });
    return Interpreted(path, future.get());
  }

  // The parsed 200 body of `answer` to a call of `path`, or the protocol error.
  static Result<json> Interpreted(const std::string& path, Result<Answer> answer) {
    if (!answer.ok()) {
      return MakeError(answer.error().code, "authority " + path + ": " + answer.error().message);
    }
    return Interpret(path, answer->status, answer->body);
  }

  // Sends `method` to `path` with the JSON text `body` (none when empty), failing when the
  // authority stays silent for `timeout`; `done` gets the answer, or why there is none, on
  // the client's loop.
  void Exchange(const char* method, const std::string& path, std::string body,
                std::chrono::milliseconds timeout, std::function<void(Result<Answer>)> done) {
    UpstreamRequest request;
    request.method = method;
    request.target = path;
    request.headers["Accept"] = "application/json";
    request.timeout = timeout;
    if (!body.empty()) {
      request.body = std::move(body);
      request.headers["Content-Type"] = "application/json";
    }
    if (const std::string token = ReadToken(options.token_file); !token.empty()) {
      request.headers["Authorization"] = "Bearer " + token;
    }
    auto pending = std::make_shared<PendingCall>(loop->loop(0), std::move(done));
    // The client's timeout fails a silent exchange; name resolution and the wait for a
    // connection have none of their own, hence the bound on the whole call. A late answer
    // then finds the call answered.
    const auto total = timeout * kTimeoutsPerCall;
    boost::asio::post(loop->loop(0), [this, pending, request = std::move(request),
                                      total]() mutable {
      pending->deadline.expires_after(total);
      pending->deadline.async_wait([pending, total](boost::system::error_code error) {
        if (!error) {
          pending->Finish(MakeError(ErrorCode::kDeadlineExceeded,
                                    "no answer within " + std::to_string(total.count()) +
                                        " ms"));
        }
      });
      Start(std::move(pending), std::move(request));
    });
  }

  // On the loop: sends `request` now, or once fewer than kMaxOpenCalls calls are
  // open, so that the pool's connections are reused rather than opened and closed (a TLS
  // handshake each) when many calls arrive together.
  void Start(std::shared_ptr<PendingCall> pending, UpstreamRequest request) {
    if (open_calls == kMaxOpenCalls) {
      waiting.emplace_back(std::move(pending), std::move(request));
      return;
    }
    ++open_calls;
    client->Send(std::move(request), [this, pending](UpstreamOutcome outcome) {
      if (!outcome.response) {
        Ended();
        pending->Finish(std::move(outcome.failure.error));
        return;
      }
      std::make_shared<Collector>(std::move(*outcome.response),
                                  [this, pending](Result<Answer> answer) {
                                    Ended();
                                    pending->Finish(std::move(answer));
                                  })
          ->Next();
    });
  }

  // On the loop: a call's exchange ended; the oldest waiting call still unanswered goes.
  void Ended() {
    --open_calls;
    while (!waiting.empty()) {
      auto [pending, request] = std::move(waiting.front());
      waiting.pop_front();
      if (pending->done) {
        Start(std::move(pending), std::move(request));
        return;
      }
    }
  }
};

HttpAuthorityClient::HttpAuthorityClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpAuthorityClient::~HttpAuthorityClient() = default;

Result<std::unique_ptr<HttpAuthorityClient>> HttpAuthorityClient::Create(Options options) {
  BeastUpstreamOptions upstream;
  upstream.base_url = options.base_url;
  upstream.ca_file = options.ca_file;
  upstream.ca_pem = options.ca_pem;
  upstream.ca_pem_name = "the authority CA (AGENTBUDGET_AUTHORITY_CA)";
  // The authority's own CA when one is given, not every CA the system trusts.
  upstream.system_cas = false;
  upstream.timeout = std::max(options.timeout, std::chrono::milliseconds(1));
  upstream.max_idle = kMaxOpenCalls;
  upstream.read_buffer = kReadBuffer;
  auto loop = std::make_unique<EventLoops>(1, "authority");
  upstream.loops = loop.get();
  auto client = BeastUpstreamClient::Create(std::move(upstream));
  if (!client.ok()) {
    return InvalidArgument("authority \"" + options.base_url + "\": " + client.error().message);
  }
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->loop = std::move(loop);
  impl->client = std::move(*client);
  return std::unique_ptr<HttpAuthorityClient>(new HttpAuthorityClient(std::move(impl)));
}

void HttpAuthorityClient::Reserve(const ReserveRequest& request, ReserveDone done) {
  WriteCall call = CallOf(request);
  impl_->Exchange("POST", call.path, call.body.dump(), impl_->options.timeout,
                  [model = request.model, done = std::move(done)](Result<Answer> answer) {
                    done(ReservationOf(Impl::Interpreted("/v1/reservations", std::move(answer)),
                                       model));
                  });
}

void HttpAuthorityClient::ReserveBatch(std::vector<ReserveRequest> requests,
                                       ReserveBatchDone done) {
  std::vector<std::string> paths;
  std::string body = BatchBody(requests, paths);
  impl_->Exchange(
      "POST", "/v1/batch", std::move(body), impl_->options.timeout,
      [requests = std::move(requests), paths = std::move(paths),
       done = std::move(done)](Result<Answer> answer) {
        auto parsed = Impl::Interpreted("/v1/batch", std::move(answer));
        if (!parsed.ok()) {
          done(parsed.error());
          return;
        }
        auto answers = BatchAnswersOf(*parsed, paths);
        if (!answers.ok()) {
          done(answers.error());
          return;
        }
        std::vector<Result<Reservation>> out;
        out.reserve(requests.size());
        for (size_t i = 0; i < requests.size(); ++i) {
          out.push_back(ReservationOf((*answers)[i], requests[i].model));
        }
        done(std::move(out));
      });
}

Status HttpAuthorityClient::Commit(const CommitRequest& request) {
  const WriteCall call = CallOf(request);
  return Acknowledged(impl_->Post(call.path, call.body.dump()), "commit");
}

Status HttpAuthorityClient::Release(const std::string& reservation_id,
                                    const std::string& idempotency_key) {
  auto answer = impl_->Post("/v1/reservations/" + reservation_id + "/release",
                            json{{"idempotencyKey", idempotency_key}}.dump());
  if (!answer.ok()) {
    return answer.error();
  }
  return OkStatus();
}

Status HttpAuthorityClient::RecordEvent(const EventRequest& request) {
  const WriteCall call = CallOf(request);
  return Acknowledged(impl_->Post(call.path, call.body.dump()), "event");
}

Result<std::vector<Status>> HttpAuthorityClient::CommitBatch(const std::vector<Write>& writes) {
  std::vector<std::string> paths;
  std::string body = BatchBody(writes, paths);
  // Held until the answer's header arrives (a stale connection's retry sends it again).
  body.shrink_to_fit();
  auto answer = impl_->Post("/v1/batch", std::move(body));
  if (!answer.ok()) {
    return answer.error();
  }
  auto answers = BatchAnswersOf(*answer, paths);
  if (!answers.ok()) {
    return answers.error();
  }
  std::vector<Status> out;
  out.reserve(writes.size());
  for (size_t i = 0; i < writes.size(); ++i) {
    out.push_back(Acknowledged(
        (*answers)[i], std::holds_alternative<CommitRequest>(writes[i]) ? "commit" : "event"));
  }
  return out;
}

Result<ProviderCredentials> HttpAuthorityClient::FetchCredentials() {
  auto answer = impl_->Call("GET", "/v1/credentials", "");
  if (!answer.ok()) {
    return answer.error();
  }
  return ProviderCredentials{Str(*answer, "anthropicApiKey"), Str(*answer, "openaiApiKey")};
}

}  // namespace agentbudget::meter
