#include "common/http_connection.h"

#include <strings.h>

#include <array>
#include <boost/asio/ssl.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>
#include <string>

#include "common/http_request_target.h"
#include "common/log.h"

namespace agentbudget::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using SysError = boost::system::error_code;

// After a refused request: how long, and how many bytes, the client's unread remainder is
// drained before the socket is closed.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerBytes = 4 * 1024 * 1024;

Response DefaultRefusal(int status, const std::string& message) {
  return Response::Json(status,
                        {{"error", {{"code", status == 503 ? "unavailable" : "invalid_argument"},
                                    {"message", message}}}});
}

template <class Connection>
class Writer;

// One connection, plain (Stream = beast::tcp_stream) or TLS (beast::ssl_stream over it).
// Every operation runs on the socket's strand, so the members need no lock.
template <class Stream>
class Connection : public std::enable_shared_from_this<Connection<Stream>> {
  friend class Writer<Connection>;

 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Connection(asio::ip::tcp::socket&& socket, std::shared_ptr<ServerCore> core,
             std::shared_ptr<asio::ssl::context> tls)
      : core_(std::move(core)),
        tls_(std::move(tls)),
        stream_(MakeStream(std::move(socket))),
        request_deadline_(stream_.get_executor()) {
    core_->connections.fetch_add(1);
  }
  ~Connection() { core_->ConnectionEnded(); }

  // `over_capacity`: answer 503 at once instead of reading a request.
  void Start(bool over_capacity) {
    if constexpr (kTls) {
      Tcp().expires_after(core_->options.request_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this(), over_capacity](SysError ec) {
                                if (ec) {
                                  log::Debug("TLS handshake failed", {{"error", ec.message()}});
                                  return;
                                }
                                self->Begin(over_capacity);
                              });
    } else {
      Begin(over_capacity);
    }
  }

 private:
  Stream MakeStream(asio::ip::tcp::socket&& socket) {
    if constexpr (kTls) {
      return Stream(beast::tcp_stream(std::move(socket)), *tls_);
    } else {
      return Stream(std::move(socket));
    }
  }

  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }

  void Begin(bool over_capacity) {
    if (over_capacity) {
      Response r = Refusal(503, "the server has too many open connections");
      r.headers["Retry-After"] = "1";
      Refuse(std::move(r));
      return;
    }
    AwaitRequest();
  }

  // Waits up to idle_timeout for the first byte of the next request, unless it is here.
  void AwaitRequest() {
    if (buffer_.size() > 0) {
      ReadHeader();
      return;
    }
    Tcp().expires_after(core_->options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = this->shared_from_this()](SysError ec, size_t n) {
                              if (ec) {
                                return;  // idle timeout, or the client closed: nothing to answer
                              }
                              self->buffer_.commit(n);
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    parser_.emplace();
    LimitParser(*parser_, core_->options);
    // Not the stream's own timeout, which would close the socket before the 408 is sent.
    Tcp().expires_never();
    timed_out_ = false;
    request_deadline_.expires_after(core_->options.request_timeout);
    const uint64_t serial = ++request_serial_;
    request_deadline_.async_wait([self = this->shared_from_this(), serial](SysError ec) {
      // A later serial (or no parser) means this request was read or refused before the
      // timer's turn came: the expiry is stale.
      if (!ec && self->parser_ && serial == self->request_serial_) {
        self->timed_out_ = true;
        SysError ignored;
        self->Tcp().socket().cancel(ignored);
      }
    });
    bhttp::async_read_header(stream_, buffer_, *parser_, AfterRead(&Connection::OnHeader));
  }

  // The completion of a read into the parser: a failure is answered (OnReadFailed), else
  // `next` runs.
  auto AfterRead(void (Connection::*next)()) {
    return [self = this->shared_from_this(), next](SysError ec, size_t) {
      if (ec) {
        self->OnReadFailed(ec);
        return;
      }
      ((*self).*next)();
    };
  }

  void OnHeader() {
    if (!parser_->is_done() &&
        beast::iequals(parser_->get()[bhttp::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = this->shared_from_this()](SysError ec, size_t) {
                          if (!ec) {
                            self->ReadBody();
                          }
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    bhttp::async_read(stream_, buffer_, *parser_, AfterRead(&Connection::OnRequest));
  }

  Response Refusal(int status, const std::string& message) {
    if (!core_->options.refusal) {
      return DefaultRefusal(status, message);
    }
    std::string target;
    if (parser_) {
      target = std::string(parser_->get().target());  // "" until the request line is read
    }
    return core_->options.refusal(status, message, target);
  }

  void OnReadFailed(SysError ec) {
    request_deadline_.cancel();
    const ServerOptions& o = core_->options;
    if (timed_out_) {
      Refuse(Refusal(408, "the request did not arrive within " +
                              std::to_string(o.request_timeout.count()) + " ms"));
    } else if (ec == bhttp::error::body_limit) {
      Refuse(Refusal(413, "request body exceeds " + std::to_string(o.max_body_bytes) + " bytes"));
    } else if (ec == bhttp::error::header_limit) {
      Refuse(Refusal(431, "request line and headers exceed " +
                              std::to_string(o.max_header_bytes) + " bytes"));
    } else if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
               ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      Refuse(Refusal(400, "malformed request: " + ec.message()));
    }
    // Otherwise the client closed or reset: nobody to answer.
    parser_.reset();
  }

  void OnRequest() {
    request_deadline_.cancel();
    const bool keep_alive = parser_->keep_alive() && !core_->draining.load();
    auto request = ToRequest(parser_->release());
    parser_.reset();
    if (!request.ok()) {
      Refuse(Refusal(400, "malformed request: " + request.error().message));
      return;
    }
    if (const StreamHandler* stream = core_->router.StreamFor(*request)) {
      Answer(*stream, std::move(*request), keep_alive);
      return;
    }
    Response response;
    try {
      response = core_->router.Dispatch(*request);
    } catch (const std::exception& e) {
      log::Error("http handler threw", {{"path", request->path}, {"error", e.what()}});
      response = Response::FromError(Internal("handler failed"));
    }
    Write(std::move(response), keep_alive, /*refused=*/false);
  }

  void Answer(const StreamHandler& handler, Request&& request, bool keep_alive) {
    keep_alive_ = keep_alive;
    auto writer = std::make_shared<Writer<Connection>>(this->shared_from_this());
    const std::string path = request.path;
    try {
      handler(std::move(request), writer);
    } catch (const std::exception& e) {
      log::Error("http handler threw", {{"path", path}, {"error", e.what()}});
      if (!writer->used()) {
        writer->Send(Response::FromError(Internal("handler failed")));
      }
    }
  }

  // The steps of a streamed answer (see ResponseWriter), on the connection's strand.
  void BeginStream(int status, Headers&& headers, std::string&& first,
                   std::function<void(bool)>&& done) {
    bhttp::response<bhttp::empty_body> head;
    head.version(11);
    head.result(static_cast<unsigned>(status));
    for (auto& [name, value] : headers) {
      if (!beast::iequals(name, "Connection") && !beast::iequals(name, "Content-Length") &&
          !beast::iequals(name, "Transfer-Encoding")) {
        head.set(name, value);
      }
    }
    head.keep_alive(keep_alive_);
    head.chunked(true);
    head_ = SerializedHeader(head);
    chunk_ = std::move(first);
    Tcp().expires_after(core_->options.request_timeout);
    auto written = [self = this->shared_from_this(), done = std::move(done)](SysError ec, size_t) {
      self->StreamWritten(ec, done);
    };
    if (chunk_.empty()) {
      asio::async_write(stream_, asio::buffer(head_), std::move(written));
    } else {
      asio::async_write(stream_,
                        beast::buffers_cat(asio::buffer(head_), bhttp::make_chunk(asio::buffer(chunk_))),
                        std::move(written));
    }
  }

  // The status line and header fields of `head`, as sent.
  static std::string SerializedHeader(bhttp::response<bhttp::empty_body>& head) {
    bhttp::response_serializer<bhttp::empty_body> serializer(head);
    serializer.split(true);
    std::string bytes;
    SysError ec;
    while (!serializer.is_header_done() && !ec) {
      serializer.next(ec, [&](SysError&, const auto& buffers) {
        for (const auto buffer : beast::buffers_range_ref(buffers)) {
          bytes.append(static_cast<const char*>(buffer.data()), buffer.size());
        }
        serializer.consume(beast::buffer_bytes(buffers));
      });
    }
    return bytes;
  }

  void WriteChunk(std::string&& data, std::function<void(bool)>&& done) {
    if (broken_ || data.empty()) {
      done(!broken_);
      return;
    }
    chunk_ = std::move(data);
    Tcp().expires_after(core_->options.request_timeout);
    asio::async_write(
        stream_, bhttp::make_chunk(asio::buffer(chunk_)),
        [self = this->shared_from_this(), done = std::move(done)](SysError ec, size_t) {
          self->StreamWritten(ec, done);
        });
  }

  void StreamWritten(SysError ec, const std::function<void(bool)>& done) {
    if (ec) {
      AbortStream();
    }
    done(!ec);
  }

  void EndStream(std::string&& last) {
    if (broken_) {
      return;
    }
    chunk_ = std::move(last);
    Tcp().expires_after(core_->options.request_timeout);
    auto ended = [self = this->shared_from_this()](SysError ec, size_t) {
      self->head_.clear();
      self->chunk_.clear();
      if (ec) {
        return;
      }
      if (self->keep_alive_) {
        self->AwaitRequest();
      } else {
        self->Close();
      }
    };
    if (chunk_.empty()) {
      asio::async_write(stream_, bhttp::make_chunk_last(), std::move(ended));
    } else {
      asio::async_write(
          stream_, beast::buffers_cat(bhttp::make_chunk(asio::buffer(chunk_)), bhttp::make_chunk_last()),
          std::move(ended));
    }
  }

  void AbortStream() {
    broken_ = true;
    SysError ignored;
    Tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    Tcp().close();
  }

  // Answers, then half-closes and drains what the client still sends (see Linger).
  void Refuse(Response&& response) { Write(std::move(response), false, /*refused=*/true); }

  void Write(Response&& response, bool keep_alive, bool refused) {
    response_.emplace(ToBeast(std::move(response), keep_alive));
    // A client that does not read its answer within request_timeout is dropped.
    Tcp().expires_after(core_->options.request_timeout);
    bhttp::async_write(stream_, *response_,
                       [self = this->shared_from_this(), refused](SysError ec, size_t) {
                         const bool keep = self->response_->keep_alive();
                         self->response_.reset();
                         if (ec) {
                           return;
                         }
                         if (refused) {
                           self->Linger();
                         } else if (keep) {
                           self->AwaitRequest();
                         } else {
                           self->Close();
                         }
                       });
  }

  // Sends FIN after the answer and reads (discarding) until the client closes, for at most
  // kLingerTime and kLingerBytes: closing with unread bytes would send a reset, which can
  // destroy the answer in the client's receive buffer before it is read.
  void Linger() {
    SysError ignored;
    Tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    Tcp().expires_after(kLingerTime);
    buffer_.clear();
    Drain(0);
  }

  void Drain(size_t drained) {
    Tcp().async_read_some(buffer_.prepare(16 * 1024),
                          [self = this->shared_from_this(), drained](SysError ec, size_t n) {
                            if (ec || drained + n > kLingerBytes) {
                              return;  // closed by the destructor
                            }
                            self->Drain(drained + n);
                          });
  }

  // A clean close after a Connection: close exchange.
  void Close() {
    if constexpr (kTls) {
      Tcp().expires_after(kLingerTime);
      stream_.async_shutdown([self = this->shared_from_this()](SysError) {});
    } else {
      SysError ignored;
      Tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    }
  }

  const std::shared_ptr<ServerCore> core_;
  const std::shared_ptr<asio::ssl::context> tls_;  // before stream_, which refers to it
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  std::optional<bhttp::response<bhttp::string_body>> response_;
  asio::steady_timer request_deadline_;  // from a request's first byte to its last
  uint64_t request_serial_ = 0;  // which request the deadline belongs to
  bool timed_out_ = false;
  // A streamed answer's state (see Answer).
  bool keep_alive_ = false;
  bool broken_ = false;  // aborted, or a write failed: the connection is closed
  std::string head_;   // the status line and headers being written
  std::string chunk_;  // the chunk being written
};

// The ResponseWriter of one streamed exchange: each call hops to the connection's strand.
template <class Connection>
class Writer final : public ResponseWriter {
 public:
  explicit Writer(std::shared_ptr<Connection> connection) : connection_(std::move(connection)) {}
  ~Writer() override {
    if (!ended_) {
      Abort();
    }
  }

  bool used() const { return used_.load(); }

  void Send(Response response) override {
    Finish([response = std::move(response)](Connection& c) mutable {
      c.Write(std::move(response), c.keep_alive_, /*refused=*/false);
    });
  }
  void Begin(int status, Headers headers, std::string first,
             std::function<void(bool)> done) override {
    On([status, headers = std::move(headers), first = std::move(first),
        done = std::move(done)](Connection& c) mutable {
      c.BeginStream(status, std::move(headers), std::move(first), std::move(done));
    });
  }
  void Write(std::string data, std::function<void(bool)> done) override {
    On([data = std::move(data), done = std::move(done)](Connection& c) mutable {
      c.WriteChunk(std::move(data), std::move(done));
    });
  }
  void End(std::string last) override {
    Finish([last = std::move(last)](Connection& c) mutable { c.EndStream(std::move(last)); });
  }
  void Abort() override {
    Finish([](Connection& c) { c.AbortStream(); });
  }

 private:
  template <class Step>
  void On(Step&& step) {
    used_ = true;
    asio::dispatch(connection_->stream_.get_executor(),
                   [c = connection_, step = std::forward<Step>(step)]() mutable { step(*c); });
  }
  template <class Step>
  void Finish(Step&& step) {
    if (ended_.exchange(true)) {
      return;
    }
    On(std::forward<Step>(step));
  }

  const std::shared_ptr<Connection> connection_;
  std::atomic<bool> used_{false};
  std::atomic<bool> ended_{false};
};

// A context for one TLS connection, configured (and the files re-checked) by the reloader.
std::shared_ptr<asio::ssl::context> TlsContext(tls::CertificateReloader& reloader) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  Status configured = reloader.ConfigureContext(context->native_handle());
  if (!configured.ok()) {
    log::Error("TLS context setup failed", {{"error", configured.error().ToString()}});
    return nullptr;
  }
  return context;
}

}  // namespace

void ServeConnection(asio::ip::tcp::socket socket, std::shared_ptr<ServerCore> core) {
  const bool over_capacity = core->connections.load() >= core->options.max_connections;
  if (core->reloader == nullptr) {
    std::make_shared<Connection<beast::tcp_stream>>(std::move(socket), std::move(core), nullptr)
        ->Start(over_capacity);
    return;
  }
  auto context = TlsContext(*core->reloader);
  if (context == nullptr) {
    return;  // the socket closes; the error is logged
  }
  std::make_shared<Connection<beast::ssl_stream<beast::tcp_stream>>>(
      std::move(socket), std::move(core), std::move(context))
      ->Start(over_capacity);
}

void LimitParser(RequestParser& parser, const ServerOptions& options) {
  parser.header_limit(static_cast<uint32_t>(options.max_header_bytes));
  parser.body_limit(static_cast<uint64_t>(options.max_body_bytes));
}

Result<Request> ToRequest(bhttp::request<bhttp::string_body>&& parsed) {
  auto target = ParseRequestTarget(std::string_view(parsed.target().data(), parsed.target().size()));
  if (!target.ok()) {
    return std::move(target).error();
  }
  Request request;
  request.method = std::string(parsed.method_string());
  request.path = std::move(target->path);
  request.query = std::move(target->query);
  for (const auto& field : parsed) {
    std::string name(field.name_string());
    std::string_view value(field.value().data(), field.value().size());
    auto [it, inserted] = request.headers.try_emplace(std::move(name), value);
    if (!inserted) {
      it->second.append(", ").append(value);
    }
  }
  request.body = std::move(parsed.body());
  return request;
}

bhttp::response<bhttp::string_body> ToBeast(Response&& response, bool keep_alive) {
  bhttp::response<bhttp::string_body> out;
  out.version(11);
  out.result(static_cast<unsigned>(response.status));
  for (auto& [name, value] : response.headers) {
    if (::strcasecmp(name.c_str(), "Connection") == 0) {
      keep_alive = keep_alive && ::strcasecmp(value.c_str(), "close") != 0;
      continue;
    }
    out.set(name, value);
  }
  if (out.find(bhttp::field::content_type) == out.end()) {
    out.set(bhttp::field::content_type, "text/plain; charset=utf-8");
  }
  out.body() = std::move(response.body);
  out.keep_alive(keep_alive);
  out.prepare_payload();
  return out;
}

}  // namespace agentbudget::http
