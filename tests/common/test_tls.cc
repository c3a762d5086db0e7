#include "tests/common/test_tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

namespace agentbudget::testing {
namespace {

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);  // NOLINT(google-runtime-int)
  return std::string(data, static_cast<size_t>(length));
}

Status WriteFileAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) {
      return Internal("cannot write " + tmp);
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return Internal("cannot rename " + tmp + ": " + ec.message());
  }
  return OkStatus();
}

}  // namespace

Result<CertificateFiles> WriteSelfSignedCertificate(const std::string& dir,
                                                    const std::string& stem,
                                                    const std::string& common_name) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  if (!key) {
    return Internal("EC key generation failed");
  }
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
  X509_set_version(cert.get(), 2);
  static long serial = 1;  // NOLINT(google-runtime-int)
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400L * 365);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (const char* ext : {"subjectAltName", "basicConstraints"}) {
    const char* value = std::string(ext) == "subjectAltName" ? "IP:127.0.0.1,DNS:localhost"
                                                             : "critical,CA:TRUE";
    X509_EXTENSION* e = X509V3_EXT_conf(nullptr, &ctx, ext, value);
    if (e == nullptr) {
      return Internal("cannot build certificate extension");
    }
    X509_add_ext(cert.get(), e, -1);
    X509_EXTENSION_free(e);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return Internal("certificate signing failed");
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(BIO_new(BIO_s_mem()), &BIO_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_X509(cert_bio.get(), cert.get());
  PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  CertificateFiles files{dir + "/" + stem + ".crt", dir + "/" + stem + ".key",
                         BioToString(cert_bio.get())};
  if (Status s = WriteFileAtomically(files.key_file, BioToString(key_bio.get())); !s.ok()) {
    return std::move(s).error();
  }
  if (Status s = WriteFileAtomically(files.cert_file, files.cert_pem); !s.ok()) {
    return std::move(s).error();
  }
  return files;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base ? base : "/tmp") + "/agentbudget-test-XXXXXX";
  if (::mkdtemp(pattern.data()) != nullptr) {
    path_ = pattern;
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) {
    std::filesystem::remove_all(path_, ec);
  }
}

Result<RawExchange> RawHttpExchange(uint16_t port, const std::string& request, bool tls,
                                    int max_version, std::chrono::milliseconds deadline) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return Unavailable("socket failed");
  }
  std::unique_ptr<int, void (*)(int*)> fd_guard(&fd, [](int* f) { ::close(*f); });
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Unavailable("connect failed");
  }
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(nullptr, &SSL_CTX_free);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(nullptr, &SSL_free);
  RawExchange exchange;
  if (tls) {
    ctx.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_security_level(ctx.get(), 0);  // let old protocols be offered at all
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_VERSION);
    SSL_CTX_set_max_proto_version(ctx.get(), max_version);
    ssl.reset(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), fd);
    if (SSL_connect(ssl.get()) != 1) {
      return Unavailable("TLS handshake failed");
    }
    X509* peer = SSL_get1_peer_certificate(ssl.get());
    if (peer != nullptr) {
      char name[512];
      X509_NAME_oneline(X509_get_subject_name(peer), name, sizeof(name));
      exchange.peer_subject = name;
      X509_free(peer);
    }
  }
  auto send = [&](const char* data, size_t n) {
    return tls ? SSL_write(ssl.get(), data, static_cast<int>(n))
               : static_cast<int>(::send(fd, data, n, MSG_NOSIGNAL));
  };
  const auto end = std::chrono::steady_clock::now() + deadline;
  // Send in slices, stopping as soon as the server answers (e.g. 413 before the whole body).
  // Over TLS, readable data may be a session ticket rather than an answer, so TLS sends all.
  size_t sent = 0;
  while (sent < request.size()) {
    pollfd p{fd, POLLIN | POLLOUT, 0};
    if (::poll(&p, 1, 1000) <= 0 ||
        (!tls && (p.revents & (POLLIN | POLLERR | POLLHUP)) != 0)) {
      break;
    }
    int n = send(request.data() + sent, std::min<size_t>(request.size() - sent, 16384));
    if (n <= 0) {
      break;
    }
    sent += static_cast<size_t>(n);
  }
  char buf[16384];
  for (;;) {
    // A complete response with Content-Length ends the exchange.
    auto header_end = exchange.response.find("\r\n\r\n");
    if (header_end != std::string::npos) {
      auto cl = exchange.response.find("Content-Length: ");
      if (cl != std::string::npos && cl < header_end) {
        size_t length = std::strtoul(exchange.response.c_str() + cl + 16, nullptr, 10);
        if (exchange.response.size() >= header_end + 4 + length) {
          break;
        }
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      break;
    }
    if (!tls || SSL_pending(ssl.get()) == 0) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        break;
      }
    }
    int n = tls ? SSL_read(ssl.get(), buf, sizeof(buf))
                : static_cast<int>(::recv(fd, buf, sizeof(buf), 0));
    if (n <= 0) {
      break;
    }
    exchange.response.append(buf, static_cast<size_t>(n));
  }
  return exchange;
}

int StatusOf(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) {
    return -1;
  }
  return std::atoi(response.substr(9, 3).c_str());
}

std::string BodyOf(const std::string& response) {
  auto end = response.find("\r\n\r\n");
  return end == std::string::npos ? std::string() : response.substr(end + 4);
}

}  // namespace agentbudget::testing

// Third-party teardown, not leaks of ours: cpprestsdk's thread pool outlives main() and
// keeps OpenSSL's per-thread state; the test key generator warms OpenSSL's global provider
// caches, which OPENSSL_cleanup does not free before LeakSanitizer runs.
extern "C" const char* __lsan_default_suppressions() {  // NOLINT(bugprone-reserved-identifier)
  // With the default fast unwinder the stacks stop inside libcrypto, so match on it.
  return "leak:libcpprest.so\nleak:libcrypto.so\n";
}
