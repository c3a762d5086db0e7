#include "common/http_server.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cpprest/http_listener.h>
#include <cstring>
#include <deque>
#include <strings.h>
#include <thread>

#include "common/log.h"
#include "common/mutex.h"
#include "common/tls_reloader.h"

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
  routes_[std::move(path_prefix)][std::move(method)] = std::move(handler);
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

Response Router::Dispatch(const Request& request) const {
  // Longest prefix first: the map is ordered, so scan from the back and keep the longest.
  const std::map<std::string, Handler>* best = nullptr;
  size_t best_length = 0;
  for (const auto& [prefix, methods] : routes_) {
    if (PrefixMatches(prefix, request.path) && (best == nullptr || prefix.size() > best_length)) {
      best = &methods;
      best_length = prefix.size();
    }
  }
  if (best == nullptr) {
    return Response::Json(404, {{"error", {{"code", "not_found"},
                                           {"message", "no route for " + request.path}}}});
  }
  auto it = best->find(request.method);
  if (it == best->end()) {
    it = best->find("*");
  }
  if (it == best->end()) {
    std::string allow;
    for (const auto& [method, handler] : *best) {
      allow += (allow.empty() ? "" : ", ") + method;
    }
    Response r = Response::Json(
        405, {{"error", {{"code", "invalid_argument"},
                         {"message", request.method + " is not allowed on " + request.path}}}});
    r.headers["Allow"] = allow;
    return r;
  }
  return it->second(request);
}

namespace {

namespace cpprest_http = web::http;
using web::http::experimental::listener::http_listener;
using web::http::experimental::listener::http_listener_config;

// Asks the kernel for a free port on `address` (bind to 0, read it back, close).
Result<uint16_t> FreePort(const std::string& address) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* info = nullptr;
  if (int rc = ::getaddrinfo(address.c_str(), "0", &hints, &info); rc != 0) {
    return InvalidArgument("cannot resolve " + address + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(info, &::freeaddrinfo);
  int fd = ::socket(info->ai_family, info->ai_socktype, info->ai_protocol);
  if (fd < 0) {
    return Unavailable(std::string("socket: ") + std::strerror(errno));
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  const bool ok = ::bind(fd, info->ai_addr, info->ai_addrlen) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) == 0;
  const int bind_errno = errno;
  ::close(fd);
  if (!ok) {
    return Unavailable("cannot bind " + address + ": " + std::strerror(bind_errno));
  }
  if (bound.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
}

std::string HostForUri(const std::string& address) {
  return address.find(':') != std::string::npos ? "[" + address + "]" : address;
}

cpprest_http::http_response ToCpprest(Response&& response) {
  cpprest_http::http_response out(static_cast<cpprest_http::status_code>(response.status));
  std::string content_type = "text/plain; charset=utf-8";
  for (auto& [name, value] : response.headers) {
    if (::strcasecmp(name.c_str(), "Content-Type") == 0) {
      content_type = value;
    } else {
      out.headers().add(name, value);
    }
  }
  out.set_body(std::move(response.body), content_type);
  return out;
}

// Sends a reply; a client that went away is logged, not thrown.
void Reply(cpprest_http::http_request& request, Response&& response) {
  try {
    request.reply(ToCpprest(std::move(response))).then([](pplx::task<void> sent) {
      try {
        sent.get();
      } catch (const std::exception& e) {
        log::Debug("http reply not delivered", {{"error", e.what()}});
      }
    });
  } catch (const std::exception& e) {
    log::Debug("http reply failed", {{"error", e.what()}});
  }
}

Response TooLarge(size_t limit) {
  Response r = Response::Json(
      413, {{"error", {{"code", "invalid_argument"},
                       {"message", "request body exceeds " + std::to_string(limit) + " bytes"}}}});
  r.headers["Connection"] = "close";
  return r;
}

// Stops cpprestsdk from reading (and buffering) the rest of a body we refused: its next
// write into the closed buffer fails, which completes the request so the reply can go out.
void AbandonBody(cpprest_http::http_request& request) {
  try {
    // Closing with an exception (not plainly) makes cpprestsdk's next write fail instead of
    // silently writing nothing.
    auto refused = std::make_exception_ptr(std::runtime_error("request body refused"));
    request.body().streambuf().close(std::ios_base::in | std::ios_base::out, refused)
        .then([](pplx::task<void> closed) {
      try {
        closed.get();
      } catch (const std::exception& e) {
        log::Debug("closing a refused body failed", {{"error", e.what()}});
      }
    });
  } catch (const std::exception& e) {
    log::Debug("closing a refused body failed", {{"error", e.what()}});
  }
}

// State shared by the listener's callbacks and the worker threads. Body-reading
// continuations hold it by shared_ptr, so a late continuation after Stop() finds it alive
// (and answers 503) instead of touching freed memory.
class Core : public std::enable_shared_from_this<Core> {
 public:
  Core(Router router, size_t max_body_bytes, size_t max_queued)
      : router_(std::move(router)), max_body_bytes_(max_body_bytes), max_queued_(max_queued) {}

  void StartWorkers(size_t count) {
    for (size_t i = 0; i < count; ++i) {
      workers_.emplace_back([this] { WorkLoop(); });
    }
  }

  // Joins the workers; queued requests are answered 503. Idempotent.
  void StopWorkers() EXCLUDES(mu_) {
    std::deque<Job> dropped;
    {
      MutexLock lock(mu_);
      stopping_ = true;
      dropped.swap(queue_);
    }
    cv_.SignalAll();
    for (std::thread& worker : workers_) {
      if (worker.joinable()) {
        worker.join();
      }
    }
    for (Job& job : dropped) {
      Reply(job.raw, Response::Text(503, "server is stopping"));
    }
  }

  void OnRequest(cpprest_http::http_request raw) {
    Request request;
    try {
      request.method = raw.method();
      const web::uri& uri = raw.relative_uri();
      request.path = web::uri::decode(uri.path());
      request.query = uri.query();
      for (const auto& [name, value] : raw.headers()) {
        request.headers[name] = value;
      }
    } catch (const std::exception& e) {
      AbandonBody(raw);
      Response r = Response::Text(400, std::string("malformed request: ") + e.what());
      r.headers["Connection"] = "close";
      Reply(raw, std::move(r));
      return;
    }
    if (request.path.empty()) {
      request.path = "/";
    }
    size_t declared = 0;
    if (raw.headers().match(cpprest_http::header_names::content_length, declared) &&
        declared > max_body_bytes_) {
      AbandonBody(raw);
      Reply(raw, TooLarge(max_body_bytes_));
      return;
    }
    ReadBody(std::move(raw), std::move(request));
  }

 private:
  struct Job {
    cpprest_http::http_request raw;
    Request request;
  };
  struct BodyRead {
    cpprest_http::http_request raw;
    Request request;
    std::vector<uint8_t> chunk = std::vector<uint8_t>(16 * 1024);
  };

  void ReadBody(cpprest_http::http_request raw, Request request) {
    auto read = std::make_shared<BodyRead>();
    read->raw = std::move(raw);
    read->request = std::move(request);
    ReadMore(std::move(read));
  }

  // One asynchronous read of the body stream; continues until end of stream or the limit.
  void ReadMore(std::shared_ptr<BodyRead> read) {
    pplx::task<size_t> next;
    try {
      next = read->raw.body().streambuf().getn(read->chunk.data(), read->chunk.size());
    } catch (const std::exception& e) {
      Reply(read->raw, Response::Text(400, std::string("cannot read the body: ") + e.what()));
      return;
    }
    next.then([self = shared_from_this(), read](pplx::task<size_t> done) mutable {
      size_t n = 0;
      try {
        n = done.get();
      } catch (const std::exception& e) {
        // The client reset or sent a malformed chunk; answer if it is still listening.
        Reply(read->raw, Response::Text(400, std::string("cannot read the body: ") + e.what()));
        return;
      }
      if (n == 0) {
        self->Enqueue(Job{std::move(read->raw), std::move(read->request)});
        return;
      }
      read->request.body.append(reinterpret_cast<const char*>(read->chunk.data()), n);
      if (read->request.body.size() > self->max_body_bytes_) {
        AbandonBody(read->raw);
        Reply(read->raw, TooLarge(self->max_body_bytes_));
        return;
      }
      self->ReadMore(std::move(read));
    });
  }

  void Enqueue(Job&& job) EXCLUDES(mu_) {
    {
      MutexLock lock(mu_);
      if (!stopping_ && queue_.size() < max_queued_) {
        queue_.push_back(std::move(job));
        cv_.Signal();
        return;
      }
    }
    Response r = Response::Text(503, "server is overloaded or stopping");
    r.headers["Retry-After"] = "1";
    Reply(job.raw, std::move(r));
  }

  void WorkLoop() EXCLUDES(mu_) {
    for (;;) {
      Job job;
      {
        MutexLock lock(mu_);
        cv_.Wait(mu_, [this]() REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) {
          return;  // stopping and drained
        }
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      Response response;
      try {
        response = router_.Dispatch(job.request);
      } catch (const std::exception& e) {
        log::Error("http handler threw", {{"path", job.request.path}, {"error", e.what()}});
        response = Response::FromError(Internal("handler failed"));
      }
      Reply(job.raw, std::move(response));
    }
  }

  const Router router_;
  const size_t max_body_bytes_;
  const size_t max_queued_;
  std::vector<std::thread> workers_;  // started once, joined by StopWorkers()

  Mutex mu_;
  CondVar cv_;
  std::deque<Job> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
};

}  // namespace

class HttpServer::Impl {
 public:
  ServerOptions options;
  uint16_t port = 0;
  std::unique_ptr<tls::CertificateReloader> reloader;
  std::shared_ptr<Core> core;
  std::unique_ptr<http_listener> listener;
  Mutex stop_mu;
  bool stopped GUARDED_BY(stop_mu) = false;

  std::string Url() const {
    return std::string(options.tls ? "https://" : "http://") + HostForUri(options.address) +
           ":" + std::to_string(port);
  }

  Status Open() {
    http_listener_config config;
    if (reloader) {
      tls::CertificateReloader* certs = reloader.get();
      config.set_ssl_context_callback([certs](boost::asio::ssl::context& ctx) {
        Status configured = certs->ConfigureContext(ctx.native_handle());
        if (!configured.ok()) {
          log::Error("TLS context setup failed", {{"error", configured.error().ToString()}});
        }
      });
    }
    try {
      listener = std::make_unique<http_listener>(web::uri(Url()), config);
      std::shared_ptr<Core> shared = core;
      listener->support([shared](cpprest_http::http_request request) {
        shared->OnRequest(std::move(request));
      });
      listener->open().wait();
    } catch (const std::exception& e) {
      listener.reset();
      return Unavailable("cannot listen on " + Url() + ": " + e.what());
    }
    return OkStatus();
  }

  void Stop() EXCLUDES(stop_mu) {
    MutexLock lock(stop_mu);
    if (stopped) {
      return;
    }
    stopped = true;
    if (listener) {
      try {
        listener->close().wait();
      } catch (const std::exception& e) {
        log::Warn("closing the listener failed", {{"error", e.what()}});
      }
    }
    core->StopWorkers();
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(ServerOptions options, Router router) {
  if (options.worker_threads == 0 || options.max_body_bytes == 0) {
    return InvalidArgument("worker_threads and max_body_bytes must be positive");
  }
  auto impl = std::make_unique<Impl>();
  if (options.tls) {
    auto reloader = tls::CertificateReloader::Load(
        options.tls->cert_file, options.tls->key_file, options.tls->reload_check_interval);
    if (!reloader.ok()) {
      return std::move(reloader).error();
    }
    impl->reloader = std::move(reloader).value();
  }
  impl->core = std::make_shared<Core>(std::move(router), options.max_body_bytes,
                                      options.max_queued_requests);
  impl->options = std::move(options);
  // A free port can be taken between probing and binding; try a few.
  const int attempts = impl->options.port == 0 ? 5 : 1;
  Status opened = OkStatus();
  for (int i = 0; i < attempts; ++i) {
    if (impl->options.port == 0) {
      auto port = FreePort(impl->options.address);
      if (!port.ok()) {
        return std::move(port).error();
      }
      impl->port = *port;
    } else {
      impl->port = impl->options.port;
    }
    opened = impl->Open();
    if (opened.ok()) {
      break;
    }
  }
  if (!opened.ok()) {
    return std::move(opened).error();
  }
  impl->core->StartWorkers(impl->options.worker_threads);
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const { return impl_->port; }

std::string HttpServer::url() const { return impl_->Url(); }

bool HttpServer::certificates_loaded() const {
  return !impl_->options.tls || impl_->reloader != nullptr;
}

uint64_t HttpServer::certificate_reloads() const {
  return impl_->reloader ? impl_->reloader->reloads() : 0;
}

void HttpServer::Stop() { impl_->Stop(); }

}  // namespace agentbudget::http
