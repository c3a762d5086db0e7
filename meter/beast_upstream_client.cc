#include "meter/beast_upstream_client.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <vector>

#include "common/event_loops.h"
#include "common/log.h"
#include "common/mutex.h"
#include "meter/base_url.h"

namespace agentbudget::meter {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using SysError = boost::system::error_code;
using Tcp = asio::ip::tcp;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

namespace {

constexpr uint32_t kMaxHeaderBytes = 64 * 1024;

UpstreamOutcome Failed(ErrorCode code, std::string message, bool sent) {
  UpstreamOutcome outcome;
  outcome.failure = UpstreamFailure{Error{code, std::move(message)}, sent};
  return outcome;
}

UpstreamOutcome FailedOn(SysError ec, const std::string& step, bool sent) {
  return ec == beast::error::timeout
             ? Failed(ErrorCode::kDeadlineExceeded, step + ": timed out", sent)
             : Failed(ErrorCode::kUnavailable, step + ": " + ec.message(), sent);
}

// Whether a request failed the way a connection the provider closed while idle fails: the
// write was refused, or the answer ended before its first byte.
bool StaleConnection(SysError ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted || ec == asio::ssl::error::stream_truncated;
}

}  // namespace

// What the client's requests share; see PoolImpl for the two kinds of connection.
class BeastUpstreamClient::Impl {
 public:
  virtual ~Impl() = default;
  virtual void Send(UpstreamRequest&& request, std::function<void(UpstreamOutcome)>&& done) = 0;
  virtual size_t Idle() const = 0;
};

namespace {

// One connection to the provider, plain or TLS. Its operations run on its loop (`loop` of
// the client's EventLoops), whose one thread serialises them.
template <class Stream>
struct Connection {
  Connection(asio::io_context& io, size_t loop_index, asio::ssl::context* tls)
      : loop(loop_index),
        stream(MakeStream(io, tls)),
        resolver(io.get_executor()),
        idle_timer(io.get_executor()) {}

  static Stream MakeStream(asio::io_context& io, asio::ssl::context* tls) {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      return Stream(PlainStream(io.get_executor()), *tls);
    } else {
      return Stream(io.get_executor());
    }
  }

  auto executor() { return Tcp().get_executor(); }

  PlainStream& Tcp() { return beast::get_lowest_layer(stream); }

  void Close() {
    SysError ignored;
    Tcp().socket().shutdown(Tcp::socket::shutdown_both, ignored);
    Tcp().close();
  }

  const size_t loop;
  Stream stream;
  Tcp::resolver resolver;
  beast::flat_buffer buffer;
  asio::steady_timer idle_timer;  // closes the connection when it idles in the pool too long
  bool used = false;              // it carried a request before
};

template <class Stream>
class PoolImpl;

// One request: sent on a pooled connection (once more on a new one if that was stale), then
// its answer read through the UpstreamBody it hands out.
template <class Stream>
class Exchange : public std::enable_shared_from_this<Exchange<Stream>> {
 public:
  using Conn = Connection<Stream>;

  Exchange(PoolImpl<Stream>* pool, size_t loop, bhttp::request<bhttp::string_body>&& request,
           std::chrono::milliseconds timeout, std::function<void(UpstreamOutcome)>&& done)
      : pool_(pool),
        loop_(loop),
        timeout_(timeout),
        request_(std::move(request)),
        done_(std::move(done)) {}

  // On the exchange's loop: sends on an idle connection of that loop, or a new one.
  void Start() {
    conn_ = pool_->TakeIdle(loop_);
    if (conn_ != nullptr) {
      Write();
    } else {
      Open();
    }
  }

  // Reads the next piece of the body (see UpstreamBody::Read); inline when called on the
  // exchange's loop.
  void Read(std::function<void(Result<std::string_view>)>&& done) {
    asio::dispatch(conn_->executor(),
                   [self = this->shared_from_this(), done = std::move(done)]() mutable {
                     self->ReadSome(std::move(done));
                   });
  }

  // See UpstreamBody. Not while a Read runs.
  bool ended() const { return parser_->is_done(); }
  bool buffered() const { return conn_->buffer.size() > 0; }

  // The body was dropped: a connection whose answer was not read to the end is closed.
  void Drop() {
    if (!released_) {
      asio::dispatch(conn_->executor(), [conn = conn_] { conn->Close(); });
    }
  }

 private:
  void Open() {
    conn_ = pool_->NewConnection(loop_);
    conn_->resolver.async_resolve(
        pool_->url().host, pool_->url().port,
        [self = this->shared_from_this()](SysError ec, Tcp::resolver::results_type found) {
          if (ec) {
            self->Fail(FailedOn(ec, "resolve " + self->pool_->url().host, false));
            return;
          }
          self->conn_->Tcp().expires_after(self->timeout_);
          self->conn_->Tcp().async_connect(found, [self](SysError ec, const Tcp::endpoint&) {
            if (ec) {
              self->Fail(FailedOn(ec, "connect", false));
              return;
            }
            SysError ignored;
            self->conn_->Tcp().socket().set_option(Tcp::no_delay(true), ignored);
            self->Handshake();
          });
        });
  }

  void Handshake() {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      if (Status named = pool_->NameHost(conn_->stream.native_handle()); !named.ok()) {
        Fail(Failed(ErrorCode::kUnavailable, "TLS: " + named.error().message, false));
        return;
      }
      conn_->stream.async_handshake(asio::ssl::stream_base::client,
                                    [self = this->shared_from_this()](SysError ec) {
                                      if (ec) {
                                        self->Fail(FailedOn(ec, "TLS handshake", false));
                                        return;
                                      }
                                      self->Write();
                                    });
    } else {
      Write();
    }
  }

  void Write() {
    conn_->Tcp().expires_after(timeout_);
    bhttp::async_write(conn_->stream, request_,
                       [self = this->shared_from_this()](SysError ec, size_t) {
                         if (ec) {
                           self->Retry(ec, "send");
                           return;
                         }
                         self->ReadHeader();
                       });
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    // No limit: a stream lasts as long as the provider writes (Beast 1.74 takes boost::none
    // for a limit of 0, hence the largest value).
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    bhttp::async_read_header(conn_->stream, conn_->buffer, *parser_,
                             [self = this->shared_from_this()](SysError ec, size_t) {
                               if (ec) {
                                 self->Retry(ec, "read the answer");
                                 return;
                               }
                               self->OnHeader();
                             });
  }

  // A reused connection that failed before any byte of the answer is retried once on a new
  // one: the provider closed it while it idled.
  void Retry(SysError ec, const std::string& step) {
    const bool nothing_read = !parser_ || (!parser_->got_some() && conn_->buffer.size() == 0);
    const bool retry = conn_->used && !retried_ && nothing_read && StaleConnection(ec);
    conn_->Close();
    if (retry) {
      retried_ = true;
      parser_.reset();
      Open();
      return;
    }
    Fail(FailedOn(ec, step, true));
  }

  void Fail(UpstreamOutcome&& outcome) {
    if (conn_ != nullptr) {
      conn_->Close();
    }
    released_ = true;
    auto done = std::move(done_);
    done(std::move(outcome));
  }

  void OnHeader();

  // Parses what the connection's buffer holds into piece_ and hands it on; reads from the
  // provider only when that gave no body byte. The parser runs eagerly (across as many of
  // the provider's chunks as arrived, one piece for the caller instead of one per chunk),
  // and is driven here rather than by Beast's read, which would hold the bytes parsed
  // while it waits for the rest of a chunk's framing (the CRLF ending each chunk arrives
  // before the next chunk's size).
  void ReadSome(std::function<void(Result<std::string_view>)>&& done) {
    if (parser_->is_done()) {
      Release();
      done(std::string_view());
      return;
    }
    parser_->eager(true);
    GrowPiece(conn_->buffer.size());
    auto& body = parser_->get().body();
    body.data = piece_.get();
    body.size = piece_size_;
    body.more = true;
    SysError ec;
    if (conn_->buffer.size() > 0) {
      conn_->buffer.consume(parser_->put(conn_->buffer.data(), ec));
      if (ec == bhttp::error::need_buffer || ec == bhttp::error::need_more) {
        ec = {};
      }
    }
    const size_t n = piece_size_ - parser_->get().body().size;
    if (ec) {
      Cut(ec, std::move(done));
      return;
    }
    if (n > 0) {
      if (parser_->is_done()) {
        Release();  // the caller may not read again once it sees ended()
      }
      done(std::string_view(piece_.get(), n));
      return;
    }
    if (parser_->is_done()) {
      ReadSome(std::move(done));  // the body's end
      return;
    }
    conn_->Tcp().expires_after(timeout_);
    conn_->stream.async_read_some(
        conn_->buffer.prepare(pool_->options().read_buffer),
        [self = this->shared_from_this(), done = std::move(done)](SysError ec, size_t n) mutable {
          self->conn_->buffer.commit(n);
          if (ec == asio::error::eof && self->conn_->buffer.size() == 0) {
            // The end of a body delimited by the connection's close, else a cut.
            self->parser_->put_eof(ec);
            if (!ec) {
              self->ReadSome(std::move(done));
              return;
            }
          }
          if (ec) {
            self->Cut(ec, std::move(done));
            return;
          }
          self->ReadSome(std::move(done));
        });
  }

  // Makes piece_ hold the body bytes `buffered` bytes of the answer can carry (never more
  // than they are), up to options().read_buffer; it grows by doubling, so an answer costs
  // what its largest read needs and a few allocations, without initialising the bytes.
  void GrowPiece(size_t buffered) {
    const size_t want = std::min(buffered, pool_->options().read_buffer);
    if (want <= piece_size_) {
      return;
    }
    piece_size_ = std::min(std::max(want, 2 * piece_size_), pool_->options().read_buffer);
    piece_ = std::make_unique_for_overwrite<char[]>(piece_size_);
  }

  // The answer failed mid-body: the connection is closed, `done` told why.
  void Cut(SysError ec, std::function<void(Result<std::string_view>)>&& done) {
    conn_->Close();
    released_ = true;
    done(ec == beast::error::timeout
             ? Error{ErrorCode::kDeadlineExceeded, "the provider sent nothing in time"}
             : Error{ErrorCode::kUnavailable, "the answer was cut: " + ec.message()});
  }

  // The answer was read to its end: the connection goes back to the pool if it may.
  void Release() {
    if (released_) {
      return;
    }
    released_ = true;
    if (parser_->keep_alive()) {
      pool_->PutIdle(conn_);
    } else {
      conn_->Close();
    }
  }

  PoolImpl<Stream>* const pool_;  // outlives the exchange (see the client's REQUIRES)
  const size_t loop_;             // the loop it runs on, its connection's
  const std::chrono::milliseconds timeout_;  // the request's, or the client's
  bhttp::request<bhttp::string_body> request_;
  std::function<void(UpstreamOutcome)> done_;
  std::shared_ptr<Conn> conn_;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser_;
  std::unique_ptr<char[]> piece_;  // the body's piece handed out last (see GrowPiece)
  size_t piece_size_ = 0;
  bool retried_ = false;
  bool released_ = false;  // the connection is pooled or closed: not this exchange's any more
};

// The UpstreamBody handed to the caller: reads through its exchange.
template <class Stream>
class Body final : public UpstreamBody {
 public:
  explicit Body(std::shared_ptr<Exchange<Stream>> exchange) : exchange_(std::move(exchange)) {}
  ~Body() override { exchange_->Drop(); }
  void Read(std::function<void(Result<std::string_view>)> done) override {
    exchange_->Read(std::move(done));
  }
  bool ended() const override { return exchange_->ended(); }
  bool buffered() const override { return exchange_->buffered(); }

 private:
  const std::shared_ptr<Exchange<Stream>> exchange_;
};

template <class Stream>
void Exchange<Stream>::OnHeader() {
  conn_->used = true;
  UpstreamResponse response;
  response.status = static_cast<int>(parser_->get().result_int());
  for (const auto& field : parser_->get()) {
    std::string name(field.name_string());
    std::string_view value(field.value().data(), field.value().size());
    auto [it, inserted] = response.headers.try_emplace(std::move(name), value);
    if (!inserted) {
      it->second.append(", ").append(value);
    }
  }
  response.body = std::make_unique<Body<Stream>>(this->shared_from_this());
  UpstreamOutcome outcome;
  outcome.response = std::move(response);
  auto done = std::move(done_);
  done(std::move(outcome));
}

// The client for one kind of connection: its event loops, a pool of idle connections on
// each.
template <class Stream>
class PoolImpl final : public BeastUpstreamClient::Impl {
 public:
  PoolImpl(BeastUpstreamOptions options, BaseUrl url, std::unique_ptr<asio::ssl::context> tls)
      : options_(std::move(options)),
        url_(std::move(url)),
        tls_(std::move(tls)),
        own_loops_(options_.loops == nullptr ? std::make_unique<EventLoops>(options_.threads)
                                             : nullptr),
        loops_(own_loops_ != nullptr ? own_loops_.get() : options_.loops),
        idle_(loops_->size()) {}

  // Stops the client's own loops first; what is still queued on them is destroyed with
  // them, after the pooled connections.
  ~PoolImpl() override {
    if (own_loops_ != nullptr) {
      own_loops_->Stop();
    }
  }

  // Runs the request on the caller's loop when the caller runs on one of the client's loops
  // (no thread hop), else on the next loop in turn.
  void Send(UpstreamRequest&& request, std::function<void(UpstreamOutcome)>&& done) override {
    bhttp::request<bhttp::string_body> out(bhttp::string_to_verb(request.method),
                                           url_.path + request.target, 11);
    for (auto& [name, value] : request.headers) {
      if (!beast::iequals(name, "host") && !beast::iequals(name, "content-length") &&
          !beast::iequals(name, "transfer-encoding") && !beast::iequals(name, "connection")) {
        out.set(name, value);
      }
    }
    out.set(bhttp::field::host, url_.HostHeader());
    out.keep_alive(true);
    out.body() = std::move(request.body);
    out.prepare_payload();
    const auto timeout = request.timeout.value_or(options_.timeout);
    const size_t loop = loops_->Current();
    asio::dispatch(loops_->loop(loop),
                   [exchange = std::make_shared<Exchange<Stream>>(this, loop, std::move(out),
                                                                  timeout, std::move(done))] {
                     exchange->Start();
                   });
  }

  size_t Idle() const override {
    MutexLock lock(mu_);
    size_t idle = 0;
    for (const auto& on_loop : idle_) {
      idle += on_loop.size();
    }
    return idle;
  }

  std::shared_ptr<Connection<Stream>> NewConnection(size_t loop) {
    return std::make_shared<Connection<Stream>>(loops_->loop(loop), loop, tls_.get());
  }

  // The most recently idled connection of `loop`, or nullptr. REQUIRES: on that loop.
  std::shared_ptr<Connection<Stream>> TakeIdle(size_t loop) {
    MutexLock lock(mu_);
    auto& idle = idle_[loop];
    if (idle.empty()) {
      return nullptr;
    }
    std::shared_ptr<Connection<Stream>> conn = std::move(idle.back());
    idle.pop_back();
    // Its expiry, if already queued, finds it gone from the pool and leaves it open.
    conn->idle_timer.cancel();
    return conn;
  }

  // REQUIRES: on the connection's loop.
  void PutIdle(const std::shared_ptr<Connection<Stream>>& conn) {
    {
      MutexLock lock(mu_);
      auto& idle = idle_[conn->loop];
      if (idle.size() >= options_.max_idle) {
        conn->Close();
        return;
      }
      idle.push_back(conn);
    }
    conn->idle_timer.expires_after(options_.idle_timeout);
    conn->idle_timer.async_wait([this, weak = std::weak_ptr<Connection<Stream>>(conn)](SysError ec) {
      auto expired = weak.lock();
      if (ec || expired == nullptr || !Remove(expired)) {
        return;
      }
      expired->Close();
    });
  }

  // Sets the name the certificate must carry (and SNI for a DNS name).
  Status NameHost(SSL* ssl) const {
    SysError ec;
    asio::ip::make_address(url_.host, ec);
    if (!ec) {
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url_.host.c_str()) != 1) {
        return Unavailable("cannot check the certificate for " + url_.host);
      }
      return OkStatus();
    }
    if (SSL_set_tlsext_host_name(ssl, url_.host.c_str()) != 1 ||
        SSL_set1_host(ssl, url_.host.c_str()) != 1) {
      return Unavailable("cannot check the certificate for " + url_.host);
    }
    return OkStatus();
  }

  const BaseUrl& url() const { return url_; }
  const BeastUpstreamOptions& options() const { return options_; }

 private:
  // Takes `conn` out of the pool; false when it is no longer there (a request took it).
  bool Remove(const std::shared_ptr<Connection<Stream>>& conn) {
    MutexLock lock(mu_);
    auto& idle = idle_[conn->loop];
    const auto it = std::find(idle.begin(), idle.end(), conn);
    if (it == idle.end()) {
      return false;
    }
    idle.erase(it);
    return true;
  }

  const BeastUpstreamOptions options_;
  const BaseUrl url_;
  const std::unique_ptr<asio::ssl::context> tls_;  // set for https
  // Set when options_.loops was not: the client's own loops. Before what holds sockets or
  // timers, so destroyed after them.
  const std::unique_ptr<EventLoops> own_loops_;
  EventLoops* const loops_;  // own_loops_ or options_.loops
  // Only Idle() reads them from another thread than the loop's.
  mutable Mutex mu_;
  // Per loop, oldest first.
  std::vector<std::vector<std::shared_ptr<Connection<Stream>>>> idle_ GUARDED_BY(mu_);
};

// Whether `pem` holds at least one PEM certificate.
bool HoldsCertificates(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (bio == nullptr) {
    return false;
  }
  std::unique_ptr<X509, decltype(&X509_free)> first(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  return first != nullptr;
}

Result<std::unique_ptr<asio::ssl::context>> ClientContext(const BeastUpstreamOptions& options) {
  auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  SysError ec;
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                           asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                           asio::ssl::context::no_tlsv1_1,
                       ec);
  if (options.system_cas || (options.ca_file.empty() && options.ca_pem.empty())) {
    context->set_default_verify_paths(ec);
    if (ec) {
      return InvalidArgument("cannot load the system's CAs: " + ec.message());
    }
  }
  if (!options.ca_file.empty()) {
    std::ifstream file(options.ca_file);
    std::stringstream text;
    text << file.rdbuf();
    if (!HoldsCertificates(text.str())) {
      return InvalidArgument("CA file \"" + options.ca_file + "\" holds no PEM certificate");
    }
    context->load_verify_file(options.ca_file, ec);
    if (ec) {
      return InvalidArgument("CA file \"" + options.ca_file + "\": " + ec.message());
    }
  }
  if (!options.ca_pem.empty()) {
    if (!HoldsCertificates(options.ca_pem)) {
      return InvalidArgument(options.ca_pem_name + " holds no PEM certificate");
    }
    context->add_certificate_authority(asio::buffer(options.ca_pem), ec);
    if (ec) {
      return InvalidArgument(options.ca_pem_name + ": " + ec.message());
    }
  }
  context->set_verify_mode(asio::ssl::verify_peer);
  // A connection's TLS record buffers (about 34 KB) are freed while they hold nothing, as
  // between a pooled connection's requests, instead of for the connection's life.
  SSL_CTX_set_mode(context->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  return context;
}

}  // namespace

Result<std::unique_ptr<BeastUpstreamClient>> BeastUpstreamClient::Create(
    BeastUpstreamOptions options) {
  if (options.loops == nullptr && options.threads == 0) {
    return InvalidArgument("the upstream client needs at least one thread");
  }
  if (options.read_buffer == 0) {
    return InvalidArgument("the upstream client needs a read buffer of at least one byte");
  }
  auto url = ParseBaseUrl(options.base_url);
  if (!url.ok()) {
    return std::move(url).error();
  }
  std::unique_ptr<Impl> impl;
  if (url->tls) {
    auto context = ClientContext(options);
    if (!context.ok()) {
      return std::move(context).error();
    }
    auto pool = std::make_unique<PoolImpl<TlsStream>>(std::move(options), std::move(*url),
                                                      std::move(*context));
    impl = std::move(pool);
  } else {
    auto pool = std::make_unique<PoolImpl<PlainStream>>(std::move(options), std::move(*url),
                                                        nullptr);
    impl = std::move(pool);
  }
  return std::unique_ptr<BeastUpstreamClient>(new BeastUpstreamClient(std::move(impl)));
}

BeastUpstreamClient::BeastUpstreamClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

BeastUpstreamClient::~BeastUpstreamClient() = default;

void BeastUpstreamClient::Send(UpstreamRequest request,
                               std::function<void(UpstreamOutcome)> done) {
  impl_->Send(std::move(request), std::move(done));
}

size_t BeastUpstreamClient::idle_connections() const { return impl_->Idle(); }

}  // namespace agentbudget::meter
