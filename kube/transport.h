#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace agentbudget::kube {

// Header names are stored lower-case, so lookups are case-insensitive by construction.
using HttpHeaders = std::map<std::string, std::string>;

struct HttpRequest {
  std::string method = "GET";
  // Absolute path with an already-encoded query, e.g. "/api/v1/pods?limit=500".
  std::string path;
  HttpHeaders headers;
  std::string body;
  // Inactivity timeout: the request fails when no byte arrives for this long. For a
  // streamed response it applies to every read of the body too.
  std::chrono::milliseconds timeout{30000};
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;
};

// A response whose body is read as it arrives (a watch). The status and headers are known
// when the stream is returned. Read() is called from one thread; Cancel() may be called
// from any thread, at any time, and makes a blocked Read() return.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  virtual int status() const = 0;
  virtual const HttpHeaders& headers() const = 0;
  // Blocks until at least one byte is available, the body ends, or the connection fails.
  // Returns the number of bytes copied into `buffer` (1..capacity), 0 at the end of the
  // body, or kUnavailable / kDeadlineExceeded (inactivity) / kUnavailable after Cancel().
  // REQUIRES: capacity > 0.
  virtual Result<std::size_t> Read(char* buffer, std::size_t capacity) = 0;
  virtual void Cancel() = 0;
};

// HTTP to one API server. Implementations are thread-safe: many requests may be in flight.
// Errors are transport errors only (connection refused or dropped: kUnavailable; inactivity
// timeout: kDeadlineExceeded; TLS set-up: kInvalidArgument); any HTTP status is a success
// of the transport and is returned in the response.
class Transport {
 public:
  virtual ~Transport() = default;
  // Sends the request and reads the whole response.
  virtual Result<HttpResponse> Send(const HttpRequest& request) = 0;
  // Sends the request and returns once the status line and headers are in; the caller owns
  // the stream and reads the body incrementally.
  virtual Result<std::unique_ptr<ResponseStream>> Open(const HttpRequest& request) = 0;
};

// Everything the transport needs to reach and trust one API server.
struct TransportConfig {
  std::string server;            // "https://host:port" or "http://host:port"
  std::string ca_pem;            // trusted CAs; empty: the system's
  std::string client_cert_pem;   // client certificate chain; empty: none
  std::string client_key_pem;    // its private key
  std::string tls_server_name;   // name to verify the server certificate against (and SNI)
  bool insecure_skip_tls_verify = false;
};

// The production transport on cpprestsdk. Fails with kInvalidArgument when the server URL
// does not parse.
Result<std::unique_ptr<Transport>> NewCpprestTransport(const TransportConfig& config);

}  // namespace agentbudget::kube
