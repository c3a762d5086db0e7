#pragma once

#include <chrono>
#include <functional>

#include "common/http_server.h"
#include "operator/authority/answer_deadline.h"
#include "operator/authority/authenticator.h"
#include "operator/authority/ledger.h"
#include "operator/authority/provider_key_secret.h"

namespace agentbudget::authority {

// The most requests one POST /v1/batch may carry (docs/authority-protocol.md).
inline constexpr size_t kMaxBatchRequests = 128;

// The budget authority's HTTP API (docs/authority-protocol.md) over a Ledger:
//   POST /v1/reservations, POST /v1/reservations/{id}/commit|release, POST /v1/events,
//   POST /v1/batch (reservations, commits and events, each answered as its own request
//   would be),
//   GET /v1/runs/{run}, GET /v1/budgets, GET /v1/credentials.
// Every request needs `Authorization: Bearer <token>`; the Authenticator maps it to the
// caller's run. A caller commits, releases and reads only its own run (another run's
// reservation or balance: 403), sees only the budgets that charge its run, and gets the
// provider keys only when its workload keeps them in the authority (key source Authority;
// else 403), answered with Cache-Control: no-store and never logged. While `serving`
// returns an error (not the leader, ledger not yet recovered) every request is answered
// 503 with that error and Retry-After: 1, so meters retry (they are never redirected: a
// follower's ledger is not authoritative, and the Service routes only to the leader once
// its readiness probe passes). A commit or event is answered once durable (a batch once
// every one of it is), at most `commit_timeout` after it arrived; past it, 503, and the meter
// resends with the same keys. Handle() blocks its caller that long; the routes (AddRoutes)
// and HandleAsync() hold no thread while they wait. Thread-safe.
class AuthorityApi {
 public:
  using ServingCheck = std::function<Status()>;
  // The provider keys for GET /v1/credentials (ProviderKeySecret::Keys).
  using KeysSource = std::function<Result<ProviderKeys>()>;
  // Receives the response to one request, exactly once.
  using Done = std::function<void(http::Response)>;

  // `ledger` and `authenticator` must outlive this object.
  AuthorityApi(Ledger& ledger, Authenticator& authenticator, ServingCheck serving,
               KeysSource keys,
               std::chrono::milliseconds commit_timeout = std::chrono::seconds{10});

  // Registers the /v1 routes, answered asynchronously (Router::AddStream): a server thread
  // runs the decision and moves on, and a commit's answer is sent from the commit thread
  // once durable (or with 503 past `commit_timeout`).
  void AddRoutes(http::Router& router);

  // One request, as the router would dispatch it under /v1.
  http::Response Handle(const http::Request& request);

  // The same without waiting: `done` runs before this returns, except for commits, events
  // and batches, whose `done` runs on the ledger's commit thread once they are durable (or at
  // once on error). Nothing of `request` is referenced after this returns, so `done` may
  // outlive it. `done` must not block, and this object and the ledger must outlive every
  // pending `done` (the ledger's destructor runs them).
  void HandleAsync(const http::Request& request, Done done);

 private:
  void Reservations(const Caller& caller, const http::Request& request, Done& done);
  // A decoded commit of reservation `id`, or event: applied, or the decoding error answered.
  void Commit(const Caller& caller, const std::string& id, Result<CommitRequest> decoded,
              Done& done);
  void Event(const Caller& caller, Result<EventRequest> decoded, Done& done);
  // POST /v1/batch: each request as it would be answered alone (a reservation, Commit or
  // Event).
  void Batch(const Caller& caller, const http::Request& request, Done& done);
  http::Response Credentials(const Caller& caller);

  Ledger& ledger_;
  Authenticator& authenticator_;
  ServingCheck serving_;
  KeysSource keys_;
  const std::chrono::milliseconds commit_timeout_;
  AnswerDeadline deadline_;  // the routes' commit_timeout
};

// GET /v1/budgets: the balances of `budgets` as JSON.
nlohmann::json BudgetsJson(const std::vector<BudgetSnapshot>& budgets);

}  // namespace agentbudget::authority
