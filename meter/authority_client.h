#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "common/result.h"
#include "core/money.h"
#include "core/usage.h"

namespace agentbudget::meter {

// The requests and answers of docs/authority-protocol.md.

enum class Decision { kAllow, kDegrade, kDeny };

struct ReserveRequest {
  std::string idempotency_key;
  std::string provider;  // "anthropic" | "openai"
  std::string model;
  core::Money estimate_cost;
  int64_t estimate_tokens = 0;
  // Asked for ahead of the call that will use it (meter/reservations_ahead.h).
  bool ahead = false;
};

struct Reservation {
  std::string id;
  Decision decision = Decision::kDeny;
  std::string model;   // the model to call: the fallback when degraded
  std::string reason;  // names the budget or ceiling for degrade and deny
};

struct CommitRequest {
  std::string reservation_id;
  std::string idempotency_key;
  std::string model;
  core::Usage usage;
  core::Money cost;
  bool estimated = false;
};

struct EventRequest {
  std::string idempotency_key;
  std::string kind;  // e.g. "llm" for a commit whose reservation the authority never saw
  core::Money cost;
  int64_t tokens = 0;
  std::string description;
};

// One write of a batch (POST /v1/batch): a commit, or a direct debit.
using Write = std::variant<CommitRequest, EventRequest>;

// The provider keys the authority hands a meter whose workload keeps them there
// (GET /v1/credentials); "" for a provider it holds no key for. Never logged.
struct ProviderCredentials {
  std::string anthropic_api_key;
  std::string openai_api_key;
};

// The most writes one POST /v1/batch may carry.
inline constexpr size_t kMaxBatch = 128;

// A client of the budget authority. Errors carry the protocol's meaning in their code:
// kInvalidArgument (400), kUnauthenticated (401), kPermissionDenied (403), kNotFound (404),
// kConflict (409: idempotency key reused with a different body), kUnavailable (503, 5xx,
// unreachable) and kDeadlineExceeded (timeout); only the last two are worth retrying.
// Implementations are thread-safe. Reserve, which every call waits for, answers through a
// callback and never blocks its caller; the other calls block the calling thread.
class AuthorityClient {
 public:
  using ReserveDone = std::function<void(Result<Reservation>)>;
  using ReserveBatchDone = std::function<void(Result<std::vector<Result<Reservation>>>)>;

  virtual ~AuthorityClient() = default;
  // Asks for a reservation; `done` gets the answer exactly once, on a thread of the
  // client's (or inline, before Reserve returns) and must not block: of this client's calls
  // it may make only Reserve.
  virtual void Reserve(const ReserveRequest& request, ReserveDone done) = 0;
  // Asks for `requests` (1..kMaxBatch) in one POST /v1/batch; `done` gets the answer to each,
  // in order, as Reserve's `done` would have, or an error of the whole call (each then
  // unanswered), under Reserve's rules.
  virtual void ReserveBatch(std::vector<ReserveRequest> requests, ReserveBatchDone done) = 0;
  // Succeeds only once the authority acknowledged the commit as durable.
  virtual Status Commit(const CommitRequest& request) = 0;
  virtual Status Release(const std::string& reservation_id, const std::string& idempotency_key) = 0;
  virtual Status RecordEvent(const EventRequest& request) = 0;
  // Sends `writes` (at most kMaxBatch) in one request and returns the answer to each, in
  // order, as Commit or RecordEvent would have returned it; each write is applied (or not)
  // on its own, under its own idempotency key. An error of the whole call leaves every
  // write unknown (resending is safe: the keys make it idempotent); when it is not worth
  // retrying (e.g. kNotFound from an authority without the batch endpoint) the authority
  // cannot take this batch: send the writes one at a time.
  virtual Result<std::vector<Status>> CommitBatch(const std::vector<Write>& writes) = 0;
  // The run's provider keys (key source Authority). kPermissionDenied when the caller's
  // workload does not keep its keys in the authority; kUnavailable (retry later) also when
  // the authority cannot read its key Secret.
  virtual Result<ProviderCredentials> FetchCredentials() = 0;
};

}  // namespace agentbudget::meter
