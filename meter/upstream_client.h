#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <chrono>
#include <string>

#include "common/http_server.h"
#include "common/result.h"

namespace agentbudget::meter {

// One request to a provider: `method` `target` (the base URL's path, if any, is prefixed).
struct UpstreamRequest {
  std::string method = "POST";  // an HTTP method Beast knows: "POST", "GET", ...
  std::string target;           // path and query, e.g. "/v1/messages?beta=true"
  http::Headers headers;
  std::string body;
  // The longest the upstream may stay silent during this exchange (connect, write, each
  // read); unset: the client's own timeout.
  std::optional<std::chrono::milliseconds> timeout;
};

// The body of an answer, read piece by piece. Not thread-safe: one Read at a time.
class UpstreamBody {
 public:
  virtual ~UpstreamBody() = default;
  // Reads what the provider sent next (at most a buffer's worth, decoded from chunked
  // encoding). `done` gets the bytes, valid until the next Read; empty bytes once the body
  // ended. It gets kUnavailable when the provider cut or reset the connection, or sent a
  // malformed body, and kDeadlineExceeded when it sent nothing for the upstream timeout.
  // Runs `done` on the client's event loop; the connection goes back to the pool after the
  // body's end, and is closed when the body is dropped before it.
  virtual void Read(std::function<void(Result<std::string_view> bytes)> done) = 0;
  // True once the body was read to its end: the last Read got its final bytes (a further
  // Read gets the empty end at once), and the connection went back to the pool.
  virtual bool ended() const = 0;
  // True when bytes of the body arrived with the headers or after the last Read: the next
  // Read waits for the provider only if they hold no more than a chunk's framing.
  virtual bool buffered() const = 0;
};

// A provider's answer: its status line and headers, and its body to read.
struct UpstreamResponse {
  int status = 0;
  http::Headers headers;
  std::unique_ptr<UpstreamBody> body;
};

// Why a request got no answer. `sent` is false when the request surely never reached the
// provider (name resolution, connect or TLS handshake failed): such an attempt is not a
// request the provider saw.
struct UpstreamFailure {
  Error error;  // kDeadlineExceeded for the upstream timeout, else kUnavailable
  bool sent = true;
};

// What Send reports: the response, or why there is none.
struct UpstreamOutcome {
  std::optional<UpstreamResponse> response;
  UpstreamFailure failure;  // meaningful when response is empty
};

// The meter's client of one provider: sends requests over pooled keep-alive connections
// and hands back the answer as it arrives, so that the caller can relay it with
// back-pressure (read the next piece only once the previous one was passed on).
// Implementations are thread-safe.
class UpstreamClient {
 public:
  virtual ~UpstreamClient() = default;
  // Sends `request`; `done` runs once the status line and headers arrived, or the request
  // failed. Runs `done` on the client's event loop; it must not block.
  virtual void Send(UpstreamRequest request, std::function<void(UpstreamOutcome)> done) = 0;
};

}  // namespace agentbudget::meter
