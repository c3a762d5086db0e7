#include "operator/authority/api.h"

#include <future>
#include <memory>
#include <vector>

#include "common/mutex.h"
#include "operator/authority/bearer.h"
#include "operator/authority/codec.h"
#include "core/time_format.h"

namespace agentbudget::authority {
namespace {

http::Response ErrorResponse(const Error& error) {
  http::Response response = http::Response::FromError(error);
  if (error.code == ErrorCode::kUnavailable) {
    response.headers["Retry-After"] = "1";
  }
  return response;
}

// The answer to a commit or event not durable within the commit timeout.
http::Response NotYetDurable() {
  return ErrorResponse(
      Unavailable("commit recorded but not yet durable; resend with the same idempotencyKey"));
}

http::Response Answer(const Result<nlohmann::json>& result) {
  if (!result.ok()) {
    return ErrorResponse(result.error());
  }
  return http::Response::Json(200, *result);
}

// A ledger reply that answers through `done`; owns everything it needs, so it may run
// after the request that caused it is gone.
Ledger::Reply Forward(AuthorityApi::Done& done) {
  return [done = std::move(done)](Result<nlohmann::json> result) { done(Answer(result)); };
}

// Splits "/v1/reservations/r-1/commit" into its segments.
std::vector<std::string> Segments(const std::string& path) {
  std::vector<std::string> segments;
  size_t start = 0;
  while (start < path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) {
      end = path.size();
    }
    if (end > start) {
      segments.push_back(path.substr(start, end - start));
    }
    start = end + 1;
  }
  return segments;
}

// The answers of one POST /v1/batch, each set once, answered together once all are set.
class BatchAnswers {
 public:
  BatchAnswers(size_t count, AuthorityApi::Done done)
      : answers_(count, nlohmann::json()), left_(count), done_(std::move(done)) {}

  void Set(size_t index, const http::Response& response) EXCLUDES(mu_) {
    nlohmann::json answers;
    {
      MutexLock lock(mu_);
      answers_[index] = {{"status", response.status},
                         {"body", nlohmann::json::parse(response.body, nullptr, false)}};
      if (--left_ > 0) {
        return;
      }
      answers = std::move(answers_);
    }
    done_(http::Response::Json(200, {{"answers", std::move(answers)}}));
  }

 private:
  Mutex mu_;
  std::vector<nlohmann::json> answers_ GUARDED_BY(mu_);
  size_t left_ GUARDED_BY(mu_);
  const AuthorityApi::Done done_;
};

}  // namespace

nlohmann::json BudgetsJson(const std::vector<BudgetSnapshot>& budgets) {
  nlohmann::json items = nlohmann::json::array();
  for (const BudgetSnapshot& budget : budgets) {
    nlohmann::json item = {
        {"name", budget.name},
        {"limit", budget.limit.Display()},
        {"spent", budget.limit.Format(budget.spent)},
        {"reserved", budget.limit.Format(budget.reserved)},
        {"remaining", budget.limit.Format(budget.remaining)},
        {"utilization", std::to_string(budget.utilization) + "%"},
        {"reservedUtilization", std::to_string(budget.reserved_utilization) + "%"},
        {"pressure", core::PressureName(budget.pressure)},
        {"periodStart", core::FormatRfc3339(budget.window.start)},
    };
    if (budget.window.end != core::SysSeconds::max()) {
      item["periodEnd"] = core::FormatRfc3339(budget.window.end);
    }
    items.push_back(std::move(item));
  }
  return {{"budgets", std::move(items)}};
}

AuthorityApi::AuthorityApi(Ledger& ledger, Authenticator& authenticator, ServingCheck serving,
                           KeysSource keys, std::chrono::milliseconds commit_timeout)
    : ledger_(ledger),
      authenticator_(authenticator),
      serving_(std::move(serving)),
      keys_(std::move(keys)),
      commit_timeout_(commit_timeout),
      deadline_(commit_timeout, NotYetDurable) {}

void AuthorityApi::AddRoutes(http::Router& router) {
  auto handle = [this](http::Request&& request, std::shared_ptr<http::ResponseWriter> writer) {
    HandleAsync(request, deadline_.Guard([writer = std::move(writer)](http::Response response) {
      writer->Send(std::move(response));
    }));
  };
  router.AddStream("POST", "/v1/reservations", handle);
  router.AddStream("POST", "/v1/events", handle);
  router.AddStream("POST", "/v1/batch", handle);
  router.AddStream("GET", "/v1/runs", handle);
  router.AddStream("GET", "/v1/budgets", handle);
  router.AddStream("GET", "/v1/credentials", handle);
}

http::Response AuthorityApi::Handle(const http::Request& request) {
  // Shared: `done` may run after this handler gave up waiting.
  auto promise = std::make_shared<std::promise<http::Response>>();
  auto future = promise->get_future();
  HandleAsync(request, [promise](http::Response response) {
    promise->set_value(std::move(response));
  });
  if (future.wait_for(commit_timeout_) != std::future_status::ready) {
    return NotYetDurable();
  }
  return future.get();
}

void AuthorityApi::HandleAsync(const http::Request& request, Done done) {
  if (Status serving = serving_(); !serving.ok()) {
    done(ErrorResponse(Unavailable(serving.error().message)));
    return;
  }
  const std::string token = BearerToken(request);
  if (token.empty()) {
    done(ErrorResponse(
        MakeError(ErrorCode::kUnauthenticated, "missing Authorization: Bearer <token>")));
    return;
  }
  auto caller = authenticator_.Authenticate(token);
  if (!caller.ok()) {
    done(ErrorResponse(caller.error()));
    return;
  }
  const std::vector<std::string> segments = Segments(request.path);
  if (segments.size() >= 2 && segments[0] == "v1") {
    if (segments[1] == "reservations" && request.method == "POST") {
      Reservations(*caller, request, done);
      return;
    }
    if (segments[1] == "events" && segments.size() == 2 && request.method == "POST") {
      Event(*caller, DecodeEvent(request.body), done);
      return;
    }
    if (segments[1] == "batch" && segments.size() == 2 && request.method == "POST") {
      Batch(*caller, request, done);
      return;
    }
    if (segments[1] == "runs" && segments.size() == 3 && request.method == "GET") {
      done(Answer(ledger_.RunBalance(*caller, segments[2])));
      return;
    }
    if (segments[1] == "budgets" && segments.size() == 2 && request.method == "GET") {
      done(http::Response::Json(200, BudgetsJson(ledger_.BudgetsFor(*caller))));
      return;
    }
    if (segments[1] == "credentials" && segments.size() == 2 && request.method == "GET") {
      done(Credentials(*caller));
      return;
    }
  }
  done(ErrorResponse(NotFound("no such endpoint: " + request.method + " " + request.path)));
}

void AuthorityApi::Reservations(const Caller& caller, const http::Request& request, Done& done) {
  const std::vector<std::string> segments = Segments(request.path);
  if (segments.size() == 2) {
    auto decoded = DecodeReserve(request.body);
    done(decoded.ok() ? Answer(ledger_.Reserve(caller, *decoded)) : ErrorResponse(decoded.error()));
    return;
  }
  const std::string id = segments.size() == 4 ? segments[2] : "";
  if (segments.size() == 4 && segments[3] == "commit") {
    Commit(caller, id, DecodeCommit(request.body), done);
    return;
  }
  if (segments.size() == 4 && segments[3] == "release") {
    auto decoded = DecodeRelease(request.body);
    done(decoded.ok() ? Answer(ledger_.Release(caller, id, *decoded))
                      : ErrorResponse(decoded.error()));
    return;
  }
  done(ErrorResponse(NotFound("no such endpoint: " + request.path)));
}

void AuthorityApi::Commit(const Caller& caller, const std::string& id,
                          Result<CommitRequest> decoded, Done& done) {
  if (!decoded.ok()) {
    done(ErrorResponse(decoded.error()));
    return;
  }
  ledger_.Commit(caller, id, *decoded, Forward(done));
}

void AuthorityApi::Event(const Caller& caller, Result<EventRequest> decoded, Done& done) {
  if (!decoded.ok()) {
    done(ErrorResponse(decoded.error()));
    return;
  }
  ledger_.RecordEvent(caller, *decoded, Forward(done));
}

void AuthorityApi::Batch(const Caller& caller, const http::Request& request, Done& done) {
  const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
  const auto requests = body.is_object() ? body.find("requests") : body.end();
  if (requests == body.end() || !requests->is_array() || requests->empty() ||
      requests->size() > kMaxBatchRequests) {
    done(ErrorResponse(InvalidArgument("requests must be an array of 1.." +
                                       std::to_string(kMaxBatchRequests) +
                                       " {\"path\", \"body\"} objects")));
    return;
  }
  auto answers = std::make_shared<BatchAnswers>(requests->size(), std::move(done));
  for (size_t i = 0; i < requests->size(); ++i) {
    Done answer = [answers, i](http::Response response) { answers->Set(i, response); };
    const nlohmann::json& item = (*requests)[i];
    const auto path = item.is_object() ? item.find("path") : item.end();
    const auto item_body = item.is_object() ? item.find("body") : item.end();
    if (path == item.end() || !path->is_string() || item_body == item.end() ||
        !item_body->is_object()) {
      answer(ErrorResponse(InvalidArgument("requests[" + std::to_string(i) +
                                           "] must be a {\"path\", \"body\"} object")));
      continue;
    }
    // Decoded from the batch's own document, as its path alone would decode its body.
    const std::vector<std::string> segments = Segments(path->get<std::string>());
    if (segments.size() == 2 && segments[0] == "v1" && segments[1] == "reservations") {
      auto decoded = DecodeReserveObject(*item_body);
      answer(decoded.ok() ? Answer(ledger_.Reserve(caller, *decoded))
                          : ErrorResponse(decoded.error()));
    } else if (segments.size() == 4 && segments[0] == "v1" && segments[1] == "reservations" &&
               segments[3] == "commit") {
      Commit(caller, segments[2], DecodeCommitObject(*item_body), answer);
    } else if (segments.size() == 2 && segments[0] == "v1" && segments[1] == "events") {
      Event(caller, DecodeEventObject(*item_body), answer);
    } else {
      answer(ErrorResponse(InvalidArgument(
          "requests[" + std::to_string(i) +
          "].path: only /v1/reservations, /v1/reservations/{id}/commit and /v1/events "
          "may be batched")));
    }
  }
}

http::Response AuthorityApi::Credentials(const Caller& caller) {
  if (caller.key_source != KeySource::kAuthority) {
    return ErrorResponse(MakeError(
        ErrorCode::kPermissionDenied,
        "pod " + caller.namespace_name + "/" + caller.pod + ": AgentWorkload " +
            caller.namespace_name + "/" + caller.workload +
            " does not keep its provider keys in the authority (spec.meter.keySource is not "
            "Authority); its meter reads them from its own Secret"));
  }
  auto keys = keys_();
  if (!keys.ok()) {
    return ErrorResponse(keys.error());
  }
  nlohmann::json body = nlohmann::json::object();
  if (!keys->anthropic_api_key.empty()) {
    body["anthropicApiKey"] = keys->anthropic_api_key;
  }
  if (!keys->openai_api_key.empty()) {
    body["openaiApiKey"] = keys->openai_api_key;
  }
  http::Response response = http::Response::Json(200, body);
  response.headers["Cache-Control"] = "no-store";
  return response;
}

}  // namespace agentbudget::authority
