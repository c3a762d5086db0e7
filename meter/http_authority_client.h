#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "meter/authority_client.h"

namespace agentbudget::meter {

// AuthorityClient over HTTP(S) on the meter's Boost.Beast client (meter/beast_upstream_client.h):
// JSON bodies as in docs/authority-protocol.md, `Authorization: Bearer <token>` from
// `token_file` (re-read on every call so that rotated projected tokens are picked up; no
// header when empty). The authority's certificate and host name are verified against the
// CAs of `ca_file` and `ca_pem` (both trusted when both are given), or the system's when
// neither is. One keep-alive connection pool for all calls on one event-loop thread of the
// client's, where Reserve's `done` runs; the other calls block their caller. At most 16
// calls are open at once (and 16 connections kept): more wait, in order, for one to end. A
// call ends when the answer arrived, or the authority stayed silent for its timeout, or the
// whole call took 4 timeouts (kDeadlineExceeded). A reservation's timeout is `timeout`; a
// write's (commit, release, event, batch) and the key fetch's is kWriteTimeout, longer than
// the authority's own wait for durability (10 s, then 503), so that a slow group commit is
// answered rather than resent on top of itself. A call that fails on a pooled connection the authority closed is
// sent once more on a new one: every call carries an idempotency key, or is a read.
// Thread-safe.
class HttpAuthorityClient final : public AuthorityClient {
 public:
  static constexpr std::chrono::milliseconds kWriteTimeout{15'000};

  struct Options {
    std::string base_url;  // e.g. "https://authority:8443"
    std::string token_file;
    std::string ca_file;  // a PEM CA bundle file
    std::string ca_pem;   // a PEM CA bundle (the webhook injects AGENTBUDGET_AUTHORITY_CA)
    std::chrono::milliseconds timeout{2000};  // the longest silence of the authority
  };

  // Fails with kInvalidArgument for a malformed base URL, or a `ca_pem` or `ca_file` that
  // holds no PEM certificate (naming which).
  static Result<std::unique_ptr<HttpAuthorityClient>> Create(Options options);
  ~HttpAuthorityClient() override;

  void Reserve(const ReserveRequest& request, ReserveDone done) override;
  void ReserveBatch(std::vector<ReserveRequest> requests, ReserveBatchDone done) override;
  Status Commit(const CommitRequest& request) override;
  Status Release(const std::string& reservation_id, const std::string& idempotency_key) override;
  Status RecordEvent(const EventRequest& request) override;
  Result<std::vector<Status>> CommitBatch(const std::vector<Write>& writes) override;
  Result<ProviderCredentials> FetchCredentials() override;

 private:
  struct Impl;
  explicit HttpAuthorityClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace agentbudget::meter
