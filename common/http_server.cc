#include "common/http_server.h"

#include <strings.h>

#include <algorithm>
#include <future>
#include <optional>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <thread>

#include "common/http_connection.h"
#include "common/log.h"
#include "common/mutex.h"
#include "common/thread_name.h"

namespace agentbudget::http {

bool CaseInsensitiveLess::operator()(std::string_view a, std::string_view b) const {
  const size_t n = std::min(a.size(), b.size());
  const int c = ::strncasecmp(a.data(), b.data(), n);
  if (c != 0) {
    return c < 0;
  }
  return a.size() < b.size();
}

std::string Request::Header(std::string_view name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

Response Response::Json(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.headers["Content-Type"] = "application/json";
  // Replace invalid UTF-8 rather than throwing: bodies may echo untrusted input.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response Response::Text(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers["Content-Type"] = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

int HttpStatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kGone:
      return 410;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kResourceExhausted:
      return 429;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kDeadlineExceeded:
      return 504;
    case ErrorCode::kFailedPrecondition:
      return 412;
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

Response Response::FromError(const Error& error) {
  Response r = Json(HttpStatusFor(error.code),
                    {{"error", {{"code", ErrorCodeName(error.code)}, {"message", error.message}}}});
  if (error.retry_after.count() > 0) {
    r.headers["Retry-After"] = std::to_string((error.retry_after.count() + 999) / 1000);
  }
  return r;
}

void Router::Add(std::string method, std::string path_prefix, Handler handler) {
  if (path_prefix.size() > 1 && path_prefix.back() == '/') {
    path_prefix.pop_back();
  }
  routes_[std::move(path_prefix)][std::move(method)] = Route{std::move(handler), nullptr};
}

void Router::AddStream(std::string method, std::string path_prefix, StreamHandler handler) {
  if (path_prefix.size() > 1 && path_prefix.back() == '/') {
    path_prefix.pop_back();
  }
  routes_[std::move(path_prefix)][std::move(method)] = Route{nullptr, std::move(handler)};
}

namespace {

bool PrefixMatches(std::string_view prefix, std::string_view path) {
  if (prefix == "/") {
    return true;
  }
  if (path.substr(0, prefix.size()) != prefix) {
    return false;
  }
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

}  // namespace

const Router::Methods* Router::Match(const Request& request) const {
  const Methods* best = nullptr;
  size_t best_length = 0;
  for (const auto& [prefix, methods] : routes_) {
    if (PrefixMatches(prefix, request.path) && (best == nullptr || prefix.size() > best_length)) {
      best = &methods;
      best_length = prefix.size();
    }
  }
  return best;
}

const Router::Route* Router::ForMethod(const Methods& methods, const Request& request) {
  auto it = methods.find(request.method);
  if (it == methods.end()) {
    it = methods.find("*");
  }
  return it == methods.end() ? nullptr : &it->second;
}

const StreamHandler* Router::StreamFor(const Request& request) const {
  const Methods* methods = Match(request);
  const Route* route = methods == nullptr ? nullptr : ForMethod(*methods, request);
  return route != nullptr && route->stream ? &route->stream : nullptr;
}

Response Router::Dispatch(const Request& request) const {
  const Methods* best = Match(request);
  if (best == nullptr) {
    return Response::Json(404, {{"error", {{"code", "not_found"},
                                           {"message", "no route for " + request.path}}}});
  }
  const Route* route = ForMethod(*best, request);
  if (route == nullptr) {
    std::string allow;
    for (const auto& [method, unused] : *best) {
      allow += (allow.empty() ? "" : ", ") + method;
    }
    Response r = Response::Json(
        405, {{"error", {{"code", "invalid_argument"},
                         {"message", request.method + " is not allowed on " + request.path}}}});
    r.headers["Allow"] = allow;
    return r;
  }
  if (!route->handler) {
    return Response::FromError(Internal("the route of " + request.path + " streams"));
  }
  return route->handler(request);
}

namespace {

namespace asio = boost::asio;
using SysError = boost::system::error_code;

std::string HostForUri(const std::string& address) {
  return address.find(':') != std::string::npos ? "[" + address + "]" : address;
}

}  // namespace

class HttpServer::Impl {
 public:
  explicit Impl(std::shared_ptr<ServerCore> c)
      : core(std::move(c)),
        loops(core->options.loops),
        io(loops ? nullptr
                 : std::make_unique<asio::io_context>(
                       static_cast<int>(core->options.worker_threads))),
        acceptor(std::in_place, loops ? loops->loop(0).get_executor()
                                      : asio::any_io_executor(asio::make_strand(*io))) {}

  std::shared_ptr<ServerCore> core;
  EventLoops* const loops;  // set: the server runs on these
  // The server's own loop, when not on `loops`; reset by Stop(), which closes every
  // connection.
  std::unique_ptr<asio::io_context> io;
  // Reset by Stop() before `io`, whose services it uses.
  std::optional<asio::ip::tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  Mutex stop_mu;
  bool stopped GUARDED_BY(stop_mu) = false;

  std::string Url() const {
    return std::string(core->options.tls ? "https://" : "http://") +
           HostForUri(core->options.address) + ":" + std::to_string(port);
  }

  Status Listen() {
    const ServerOptions& o = core->options;
    SysError ec;
    asio::ip::tcp::resolver resolver(acceptor->get_executor());
    auto endpoints = resolver.resolve(o.address, std::to_string(o.port),
                                      asio::ip::tcp::resolver::passive, ec);
    if (ec || endpoints.empty()) {
      return InvalidArgument("cannot resolve " + o.address + ": " + ec.message());
    }
    const asio::ip::tcp::endpoint endpoint = *endpoints.begin();
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Unavailable("cannot listen on " + o.address + ":" + std::to_string(o.port) + ": " +
                         ec.message());
    }
    port = acceptor->local_endpoint().port();
    return OkStatus();
  }

  // Where the next connection runs: a strand of the server's own loop, or one of the shared
  // loops in turn (run by one thread each, so without a strand).
  asio::any_io_executor ConnectionExecutor() {
    if (loops) {
      return loops->loop(loops->Next()).get_executor();
    }
    return asio::make_strand(*io);
  }

  void Accept() {
    acceptor->async_accept(ConnectionExecutor(), [this](SysError ec, asio::ip::tcp::socket socket) {
      if (ec == asio::error::operation_aborted) {
        return;
      }
      if (ec) {
        // Out of descriptors, typically: wait a little rather than spin on the error.
        log::Warn("accept failed", {{"error", ec.message()}});
        auto timer = std::make_shared<asio::steady_timer>(acceptor->get_executor(),
                                                          std::chrono::milliseconds(50));
        timer->async_wait([this, timer](SysError waited) {
          if (!waited) Accept();
        });
        return;
      }
      SysError ignored;
      socket.set_option(asio::ip::tcp::no_delay(true), ignored);
      ServeConnection(std::move(socket), core);
      Accept();
    });
  }

  void Run() {
    if (loops) {
      // Started on the acceptor's loop, where every later accept runs.
      asio::post(acceptor->get_executor(), [this] { Accept(); });
      return;
    }
    Accept();
    for (size_t i = 0; i < core->options.worker_threads; ++i) {
      threads.emplace_back([this] {
        NameThread("http");
        io->run();
      });
    }
  }

  // Stops accepting, then waits until every connection ended or options.drain passed;
  // meanwhile each answer closes its connection (ServerCore::draining).
  void Drain() {
    core->draining = true;
    std::promise<void> closed;
    asio::post(acceptor->get_executor(), [this, &closed] {
      SysError ignored;
      acceptor->close(ignored);
      closed.set_value();
    });
    closed.get_future().wait();
    const auto deadline = std::chrono::steady_clock::now() + core->options.drain;
    {
      MutexLock lock(core->ended_mu);
      core->ended.WaitUntil(core->ended_mu, deadline, [this] { return core->connections == 0; });
    }
    if (const size_t open = core->connections.load(); open > 0) {
      log::Info("closing connections still open after the drain", {{"connections", open}});
    }
  }

  void Stop() EXCLUDES(stop_mu) {
    MutexLock lock(stop_mu);
    if (stopped) {
      return;
    }
    stopped = true;
    if (loops) {
      acceptor.reset();  // the loops are stopped: nothing else touches it
      return;
    }
    if (core->options.drain.count() > 0) {
      Drain();
    }
    // run() returns once the handlers running now finish; what is still pending (and each
    // connection with it) is destroyed with the io_context.
    io->stop();
    for (std::thread& thread : threads) {
      thread.join();
    }
    acceptor.reset();
    io.reset();
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(ServerOptions options, Router router) {
  if (options.worker_threads == 0 || options.max_body_bytes == 0 ||
      options.max_header_bytes == 0 || options.max_connections == 0) {
    return InvalidArgument(
        "worker_threads, max_body_bytes, max_header_bytes and max_connections must be positive");
  }
  std::unique_ptr<tls::CertificateReloader> reloader;
  if (options.tls) {
    auto loaded = tls::CertificateReloader::Load(
        options.tls->cert_file, options.tls->key_file, options.tls->reload_check_interval);
    if (!loaded.ok()) {
      return std::move(loaded).error();
    }
    reloader = std::move(loaded).value();
  }
  auto core = std::make_shared<ServerCore>(std::move(router), std::move(options));
  core->reloader = std::move(reloader);
  auto impl = std::make_unique<Impl>(std::move(core));
  if (Status listening = impl->Listen(); !listening.ok()) {
    return std::move(listening).error();
  }
  impl->Run();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const { return impl_->port; }

std::string HttpServer::url() const { return impl_->Url(); }

bool HttpServer::certificates_loaded() const {
  return !impl_->core->options.tls || impl_->core->reloader != nullptr;
}

uint64_t HttpServer::certificate_reloads() const {
  return impl_->core->reloader ? impl_->core->reloader->reloads() : 0;
}

void HttpServer::Stop() { impl_->Stop(); }

}  // namespace agentbudget::http
