#pragma once

#include <atomic>
#include <cstddef>
#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "common/http_server.h"
#include "common/mutex.h"
#include "common/tls_reloader.h"

namespace agentbudget::http {

// What the connections of one server share. Read-only once serving starts, except
// `connections`, which counts itself, and `draining`, which Stop() sets.
struct ServerCore {
  ServerCore(Router r, ServerOptions o) : router(std::move(r)), options(std::move(o)) {}

  // A connection ended: signals `ended` when it was the last one while draining.
  void ConnectionEnded() EXCLUDES(ended_mu) {
    if (connections.fetch_sub(1) == 1 && draining.load()) {
      MutexLock lock(ended_mu);
      ended.SignalAll();
    }
  }

  const Router router;
  const ServerOptions options;
  // Set when options.tls is; each TLS connection configures its context from it.
  std::unique_ptr<tls::CertificateReloader> reloader;
  std::atomic<size_t> connections{0};
  // Set by Stop() while it drains (ServerOptions::drain): every answer then closes its
  // connection (Connection: close).
  std::atomic<bool> draining{false};
  Mutex ended_mu;
  CondVar ended;  // the last connection ended while draining
};

// Serves one accepted connection until it closes: TLS handshake when core->reloader is set,
// then requests one after another (see HttpServer in http_server.h for the limits and how a
// refused request is answered). Returns at once; the connection owns itself and `core`.
// REQUIRES: `socket`'s executor is a strand of the server's io_context, or a loop of
// EventLoops (one thread, an implicit strand).
void ServeConnection(boost::asio::ip::tcp::socket socket, std::shared_ptr<ServerCore> core);

using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// Applies options.max_header_bytes and options.max_body_bytes to a fresh parser.
void LimitParser(RequestParser& parser, const ServerOptions& options);

// The project's view of a parsed request: method, decoded path, query, headers (repeated
// names joined with ", "), body. Fails with kInvalidArgument naming the rule the target
// breaks (see ParseRequestTarget). Never throws.
Result<Request> ToRequest(boost::beast::http::request<boost::beast::http::string_body>&& parsed);

// `response` as a Beast message of HTTP/1.1, with Content-Type text/plain when the handler
// set none, Content-Length, and Connection: keep-alive or close.
boost::beast::http::response<boost::beast::http::string_body> ToBeast(Response&& response,
                                                                      bool keep_alive);

}  // namespace agentbudget::http
