#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/event_loops.h"
#include "common/result.h"

namespace agentbudget::http {

// Header names compare case-insensitively (RFC 9110).
struct CaseInsensitiveLess {
  bool operator()(std::string_view a, std::string_view b) const;
  using is_transparent = void;
};
using Headers = std::map<std::string, std::string, CaseInsensitiveLess>;

// One request, fully read (the body is at most ServerOptions::max_body_bytes).
struct Request {
  std::string method;  // "GET", "POST", ... as sent
  std::string path;    // decoded path, e.g. "/mutate/pods"
  std::string query;   // raw query string without '?', possibly empty
  Headers headers;
  std::string body;

  // The header's value, or "" when absent.
  std::string Header(std::string_view name) const;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;

  // `body` serialised, with Content-Type application/json.
  static Response Json(int status, const nlohmann::json& body);
  // Plain text, with Content-Type text/plain; charset=utf-8.
  static Response Text(int status, std::string body);
  // {"error": {"code": <ErrorCodeName>, "message": ...}} with the HTTP status matching the
  // code (400, 404, 409, 401, 403, 429, 503, 504, 412 or 500).
  static Response FromError(const Error& error);
};

// Maps an ErrorCode to the HTTP status FromError uses.
int HttpStatusFor(ErrorCode code);

// Handlers run on the server's event-loop threads (ServerOptions::worker_threads), one
// request of a connection at a time. They may block, e.g. on calls to the Kubernetes API: a
// blocked handler holds its thread, the other threads keep serving every other connection.
// They must not throw: an escaping exception is caught, logged and answered with 500.
using Handler = std::function<Response(const Request&)>;

// The answer to one request of a StreamHandler, written as it becomes available: either
// whole (Send), or as a chunked stream (Begin, Write..., then End or Abort). Each of Begin,
// Write and End is one write to the socket, so a piece of body given with Begin or End costs
// no write of its own. Every method may
// be called from any thread; each runs on the connection's event loop. A `done` callback runs
// there too, once the bytes are written (true) or the client is gone or did not read them
// within ServerOptions::request_timeout (false; the connection is then closed). Call Write only
// after the previous Write's (or Begin's) `done`, and End or Abort after the last: the client's
// socket is the back-pressure. A writer dropped before Send, End or Abort aborts. The
// connection reads its next request only after Send or End.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  // The whole answer, as a Handler's. Ends the exchange.
  virtual void Send(Response response) = 0;
  // The status line and headers of a chunked answer (Content-Length and Transfer-Encoding
  // in `headers` are replaced), then `first` as the body's first chunk unless it is empty.
  virtual void Begin(int status, Headers headers, std::string first,
                     std::function<void(bool written)> done) = 0;
  // One chunk of the body; empty `data` writes nothing and completes at once.
  virtual void Write(std::string data, std::function<void(bool written)> done) = 0;
  // `last` as a chunk unless it is empty, then the terminating chunk: the client has the
  // whole answer. Ends the exchange.
  virtual void End(std::string last) = 0;
  // Closes the connection without the terminating chunk, so the client sees the answer
  // fail rather than take a truncated one for complete. Ends the exchange.
  virtual void Abort() = 0;
};

// Handles a request asynchronously: called on an event-loop thread, it must not block; it
// answers through `writer`, now or later, from any thread. Must not throw (an escaping
// exception is caught, logged and answered with 500 unless the writer was already used).
using StreamHandler =
    std::function<void(Request&& request, std::shared_ptr<ResponseWriter> writer)>;

// Routes by method and path prefix. The longest matching prefix wins; a prefix matches a
// path equal to it or continuing with '/' after it (prefix "/v1/runs" matches "/v1/runs" and
// "/v1/runs/x", not "/v1/runsx"); prefix "/" matches everything. A path that matches a
// prefix registered only for other methods is answered 405 with an Allow header; an
// unmatched path 404. Not thread-safe: build it before Start(), then it is read-only.
class Router {
 public:
  // `method` is "GET", "POST", ... or "*" for any. Re-adding the same method and prefix
  // replaces the handler.
  // REQUIRES: path_prefix starts with '/'.
  void Add(std::string method, std::string path_prefix, Handler handler);
  // The same for a handler that answers asynchronously (see StreamHandler).
  void AddStream(std::string method, std::string path_prefix, StreamHandler handler);

  // The stream handler routed for `request`, or nullptr when its route is a Handler (or
  // there is none: Dispatch answers then).
  const StreamHandler* StreamFor(const Request& request) const;

  // Runs the matching Handler (on the calling thread), or answers 404 / 405. A route added
  // with AddStream is answered 500 here: ask StreamFor first.
  Response Dispatch(const Request& request) const;

 private:
  // One of the two is set.
  struct Route {
    Handler handler;
    StreamHandler stream;
  };
  using Methods = std::map<std::string, Route>;
  // The routes of the longest prefix matching `request`'s path, or nullptr.
  const Methods* Match(const Request& request) const;
  // The route for `request`'s method (or "*") among `methods`, or nullptr.
  static const Route* ForMethod(const Methods& methods, const Request& request);

  // prefix -> method -> route
  std::map<std::string, Methods> routes_;
};

// TLS settings: the serving certificate chain and key, read from PEM files and re-read when
// they change (see common/tls_reloader.h). TLS 1.2 is the minimum protocol.
struct TlsOptions {
  std::string cert_file;
  std::string key_file;
  // How often, at most, a new connection checks the files for changes.
  std::chrono::milliseconds reload_check_interval = std::chrono::seconds(1);
};

struct ServerOptions {
  // Address to bind: "127.0.0.1", "0.0.0.0", "::1", a host name.
  std::string address = "127.0.0.1";
  // 0 picks a free port (read it back with port()).
  uint16_t port = 0;
  // Plain HTTP when unset.
  std::optional<TlsOptions> tls;
  // Larger bodies get 413 and the connection is closed. A Content-Length over the limit is
  // refused before the body is read; chunked bodies are cut off once they pass it.
  size_t max_body_bytes = 1 << 20;
  // A request line and headers larger than this get 431 and the connection is closed.
  size_t max_header_bytes = 16 * 1024;
  // Threads running the event loop and the handlers: all I/O is asynchronous, so a slow or
  // stalled client holds no thread, and a connection never gets a thread of its own.
  size_t worker_threads = 4;
  // Unset: the server runs one event loop of its own on worker_threads threads, where a
  // handler may block (the other threads serve the other connections). Set: the server runs
  // on these loops instead (worker_threads is ignored), each connection on one of them in
  // turn, and its handlers on that loop's one thread: they must not block, and what they
  // start on the same loop (e.g. a client's request upstream) completes there without a
  // thread hop. The loops must outlive the server; their owner stops them before Stop()
  // (see HttpServer::Stop).
  EventLoops* loops = nullptr;
  // Connections open at once; one more is answered 503 (Retry-After: 1) and closed.
  size_t max_connections = 4096;
  // How long Stop() lets open connections end before it closes them: it stops accepting at
  // once, answers each request that arrives meanwhile with Connection: close, and goes on
  // once no connection is open or this passed. A client's pooled keep-alive connection then
  // ends after an answer, not while the client sends a request on it (a reset the client
  // cannot retry, as the API server cannot a webhook's POST). 0: closes them at once. Only
  // for a server on its own loop (not `loops`).
  std::chrono::milliseconds drain{0};
  // A request must arrive whole (headers and body) within this time of its first byte, or
  // it is answered 408 and the connection closed.
  std::chrono::milliseconds request_timeout = std::chrono::seconds(30);
  // A keep-alive connection with no request for this long is closed. Longer than the idle
  // timeout of usual clients (Go's 90 s), so that the client, not the server, closes it.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(120);
  // Shapes the answer to a refused request (413, 431, 408, 400 or 503, with a message naming
  // the limit); `target` is the request target when its headers were read, else "". Unset:
  // {"error": {"code": ..., "message": ...}}. Runs on an event-loop thread; must not block.
  std::function<Response(int status, const std::string& message, std::string_view target)>
      refusal;
};

// An HTTP/1.1 server on Boost.Beast and Asio: a fixed pool of threads runs one event loop
// (or the given loops, see ServerOptions::loops); each connection reads a request (within the limits above), runs the routed handler, writes
// the answer, and reads the next. A refused request (413, 431, 408, 400) is answered, then
// the connection is half-closed and the client's unread bytes drained for a bounded time,
// so the client reads the answer instead of a reset. Thread-safe; Stop() (or the
// destructor) waits for running handlers to finish.
class HttpServer {
 public:
  // Binds and starts serving. Fails with kInvalidArgument for bad options or unreadable
  // TLS files, kUnavailable when the address cannot be bound.
  static Result<std::unique_ptr<HttpServer>> Start(ServerOptions options, Router router);

  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (the chosen one when options.port was 0).
  uint16_t port() const;
  // "http://127.0.0.1:PORT" or "https://...", without a trailing slash.
  std::string url() const;
  // True when TLS is on and a certificate is loaded (always true for plain HTTP).
  bool certificates_loaded() const;
  // Successful certificate reloads since start; 0 for plain HTTP.
  uint64_t certificate_reloads() const;

  // Stops accepting, closes connections, and waits for running handlers. Idempotent.
  // With options.loops: closes the listening socket only; the connections end with the loops.
  // REQUIRES: with options.loops, the loops were stopped (EventLoops::Stop) before.
  void Stop();

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace agentbudget::http
