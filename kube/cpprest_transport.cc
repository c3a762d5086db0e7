// The Transport on cpprestsdk. cpprestsdk throws from its tasks; every exception is caught in
// this file and turned into a Result, so no cpprestsdk type or exception leaves it.
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cpprest/http_client.h>
#include <system_error>

#include "common/log.h"
#include "common/mutex.h"
#include "kube/transport.h"

namespace agentbudget::kube {
namespace {

using web::http::http_exception;
using web::http::http_request;
using web::http::http_response;
using web::http::client::http_client;
using web::http::client::http_client_config;

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

Error FromHttpException(const http_exception& e) {
  if (e.error_code() == std::errc::timed_out) {
    return MakeError(ErrorCode::kDeadlineExceeded, std::string("request timed out: ") + e.what());
  }
  return Unavailable(std::string("connection failed: ") + e.what());
}

// OpenSSL's whole-chain verification, replacing cpprestsdk's per-certificate host check so
// that the expected name can differ from the URL's host (kubeconfig `tls-server-name`) and
// so that IP addresses are matched against IP SANs.
int VerifyChainAgainstName(X509_STORE_CTX* store, void* arg) {
  const auto* name = static_cast<const std::string*>(arg);
  X509_STORE_CTX_set_verify_cb(store, [](int ok, X509_STORE_CTX*) { return ok; });
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(store);
  if (X509_VERIFY_PARAM_set1_ip_asc(param, name->c_str()) != 1) {
    X509_VERIFY_PARAM_set1_host(param, name->c_str(), name->size());
  }
  return X509_verify_cert(store);
}

// Loads the CA and client identity into an SSL context. Throws boost::system::system_error
// on malformed PEM; callers catch.
void ConfigureSsl(boost::asio::ssl::context& ctx, const TransportConfig& config,
                  const std::string* verify_name) {
  ctx.set_options(boost::asio::ssl::context::default_workarounds |
                  boost::asio::ssl::context::no_sslv2 | boost::asio::ssl::context::no_sslv3 |
                  boost::asio::ssl::context::no_tlsv1 | boost::asio::ssl::context::no_tlsv1_1);
  if (config.ca_pem.empty()) {
    ctx.set_default_verify_paths();
  } else {
    ctx.add_certificate_authority(boost::asio::buffer(config.ca_pem));
  }
  if (!config.client_cert_pem.empty()) {
    ctx.use_certificate_chain(boost::asio::buffer(config.client_cert_pem));
    ctx.use_private_key(boost::asio::buffer(config.client_key_pem),
                        boost::asio::ssl::context::pem);
  }
  if (!config.insecure_skip_tls_verify && verify_name != nullptr) {
    SSL_CTX_set_cert_verify_callback(ctx.native_handle(), VerifyChainAgainstName,
                                     const_cast<std::string*>(verify_name));
  }
}

class CpprestStream final : public ResponseStream {
 public:
  CpprestStream(http_response response, std::shared_ptr<pplx::cancellation_token_source> cancel)
      : response_(std::move(response)), cancel_(std::move(cancel)) {
    status_ = response_.status_code();
    for (const auto& [name, value] : response_.headers()) {
      headers_[Lower(name)] = value;
    }
    body_ = response_.body().streambuf();
  }

  ~CpprestStream() override { Cancel(); }

  int status() const override { return status_; }
  const HttpHeaders& headers() const override { return headers_; }

  Result<std::size_t> Read(char* buffer, std::size_t capacity) override {
    auto* out = reinterpret_cast<uint8_t*>(buffer);
    try {
      // A producer_consumer_buffer completes getn(n) only once n bytes are in (or the body
      // ends), so ask for one byte, then take whatever else has already arrived.
      std::size_t n = body_.getn(out, 1).get();
      if (n == 0) {
        if (cancelled_.load()) {
          return Unavailable("stream cancelled");
        }
        return std::size_t{0};
      }
      std::size_t available = static_cast<std::size_t>(std::max<std::streamsize>(0, body_.in_avail()));
      if (available > 0 && capacity > 1) {
        n += body_.getn(out + 1, std::min(available, capacity - 1)).get();
      }
      return n;
    } catch (const http_exception& e) {
      if (cancelled_.load()) {
        return Unavailable("stream cancelled");
      }
      return FromHttpException(e);
    } catch (const std::exception& e) {
      return Unavailable(std::string("stream failed: ") + e.what());
    }
  }

  void Cancel() override {
    if (cancelled_.exchange(true)) {
      return;
    }
    cancel_->cancel();
    try {
      // Ends a read that is already waiting: a closed write side satisfies pending reads.
      body_.close(std::ios_base::out).wait();
    } catch (const std::exception& e) {
      log::Debug("closing a cancelled stream failed", {{"error", e.what()}});
    }
  }

 private:
  http_response response_;
  std::shared_ptr<pplx::cancellation_token_source> cancel_;
  concurrency::streams::streambuf<uint8_t> body_;
  int status_ = 0;
  HttpHeaders headers_;
  std::atomic<bool> cancelled_{false};  // synchronises itself: Cancel() comes from any thread
};

class CpprestTransport final : public Transport {
 public:
  explicit CpprestTransport(TransportConfig config)
      : config_(std::move(config)),
        verify_name_(std::make_shared<std::string>()) {}

  Status Init() {
    try {
      web::uri uri(config_.server);
      if (uri.scheme() != "http" && uri.scheme() != "https") {
        return InvalidArgument("server URL '" + config_.server + "' must be http or https");
      }
      *verify_name_ = config_.tls_server_name.empty() ? uri.host() : config_.tls_server_name;
      if (uri.scheme() == "https") {
        boost::asio::ssl::context probe(boost::asio::ssl::context::sslv23);
        ConfigureSsl(probe, config_, verify_name_.get());
      }
    } catch (const web::uri_exception& e) {
      return InvalidArgument("server URL '" + config_.server + "' is invalid: " + e.what());
    } catch (const std::exception& e) {
      return InvalidArgument("TLS configuration is invalid (certificate, key or CA): " +
                             std::string(e.what()));
    }
    return OkStatus();
  }

  Result<HttpResponse> Send(const HttpRequest& request) override {
    try {
      http_response response = ClientFor(request.timeout)->request(Build(request)).get();
      HttpResponse out;
      out.status = response.status_code();
      for (const auto& [name, value] : response.headers()) {
        out.headers[Lower(name)] = value;
      }
      std::vector<unsigned char> body = response.extract_vector().get();
      out.body.assign(body.begin(), body.end());
      return out;
    } catch (const http_exception& e) {
      return FromHttpException(e);
    } catch (const std::exception& e) {
      return Unavailable(std::string("request failed: ") + e.what());
    }
  }

  Result<std::unique_ptr<ResponseStream>> Open(const HttpRequest& request) override {
    try {
      auto cancel = std::make_shared<pplx::cancellation_token_source>();
      http_response response =
          ClientFor(request.timeout)->request(Build(request), cancel->get_token()).get();
      return std::unique_ptr<ResponseStream>(
          std::make_unique<CpprestStream>(std::move(response), std::move(cancel)));
    } catch (const http_exception& e) {
      return FromHttpException(e);
    } catch (const std::exception& e) {
      return Unavailable(std::string("request failed: ") + e.what());
    }
  }

 private:
  // One cpprestsdk client per timeout, because its timeout is per client: watches need a
  // longer inactivity timer than ordinary requests.
  std::shared_ptr<http_client> ClientFor(std::chrono::milliseconds timeout) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    auto& client = clients_[timeout.count()];
    if (!client) {
      http_client_config cfg;
      cfg.set_timeout(timeout);
      cfg.set_validate_certificates(!config_.insecure_skip_tls_verify);
      TransportConfig tls = config_;
      std::shared_ptr<std::string> name = verify_name_;
      cfg.set_ssl_context_callback([tls, name](boost::asio::ssl::context& ctx) {
        try {
          ConfigureSsl(ctx, tls, name.get());
        } catch (const std::exception& e) {
          // Init() loaded the same material successfully, so this cannot normally happen.
          log::Error("configuring TLS failed", {{"error", e.what()}});
        }
      });
      client = std::make_shared<http_client>(web::uri(config_.server), cfg);
    }
    return client;
  }

  static http_request Build(const HttpRequest& request) {
    http_request out(request.method);
    out.set_request_uri(web::uri(request.path));
    std::string content_type = "application/json";
    for (const auto& [name, value] : request.headers) {
      if (name == "content-type") {
        content_type = value;
      } else {
        out.headers().add(name, value);
      }
    }
    if (!request.body.empty()) {
      out.set_body(request.body, content_type);
    }
    return out;
  }

  const TransportConfig config_;
  // The name server certificates are verified against; shared with the SSL callbacks.
  std::shared_ptr<std::string> verify_name_;
  Mutex mu_;
  std::map<int64_t, std::shared_ptr<http_client>> clients_ GUARDED_BY(mu_);
};

}  // namespace

Result<std::unique_ptr<Transport>> NewCpprestTransport(const TransportConfig& config) {
  auto transport = std::make_unique<CpprestTransport>(config);
  if (Status status = transport->Init(); !status.ok()) {
    return std::move(status).error();
  }
  return std::unique_ptr<Transport>(std::move(transport));
}

}  // namespace agentbudget::kube
