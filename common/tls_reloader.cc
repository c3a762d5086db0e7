#include "common/tls_reloader.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <utility>
#include <vector>

#include "common/log.h"

namespace agentbudget::tls {
namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

// The most recent OpenSSL error as text, clearing the queue.
std::string OpenSslError() {
  unsigned long code = ERR_get_error();  // NOLINT(google-runtime-int): OpenSSL's type
  ERR_clear_error();
  if (code == 0) {
    return "unknown OpenSSL error";
  }
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

// Forward secrecy and AEAD only for TLS 1.2; TLS 1.3 suites are OpenSSL's defaults.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

}  // namespace

struct CertificateReloader::Pair {
  X509Ptr leaf;
  std::vector<X509Ptr> chain;
  PkeyPtr key;
  std::string subject;
};

CertificateReloader::CertificateReloader(std::string cert_file, std::string key_file,
                                         std::chrono::milliseconds check_interval,
                                         const Clock& clock)
    : cert_file_(std::move(cert_file)),
      key_file_(std::move(key_file)),
      check_interval_(check_interval),
      clock_(clock) {}

CertificateReloader::~CertificateReloader() = default;

Result<std::unique_ptr<CertificateReloader>> CertificateReloader::Load(
    std::string cert_file, std::string key_file, std::chrono::milliseconds check_interval,
    const Clock& clock) {
  const FileStamp cert_stamp = StampOf(cert_file);
  const FileStamp key_stamp = StampOf(key_file);
  auto pair = ReadPair(cert_file, key_file);
  if (!pair.ok()) {
    return std::move(pair).error();
  }
  std::unique_ptr<CertificateReloader> reloader(
      new CertificateReloader(std::move(cert_file), std::move(key_file), check_interval, clock));
  {
    // Not shared with any thread yet; the lock is for the analysis' sake and costs nothing.
    MutexLock lock(reloader->mu_);
    reloader->cert_stamp_ = cert_stamp;
    reloader->key_stamp_ = key_stamp;
    reloader->pair_ = std::move(pair).value();
    reloader->last_check_ = clock.Monotonic();
  }
  return reloader;
}

Result<std::shared_ptr<const CertificateReloader::Pair>> CertificateReloader::ReadPair(
    const std::string& cert_file, const std::string& key_file) {
  auto pair = std::make_shared<Pair>();
  BioPtr cert_bio(BIO_new_file(cert_file.c_str(), "r"));
  if (!cert_bio) {
    ERR_clear_error();
    return InvalidArgument("cannot read certificate file " + cert_file);
  }
  pair->leaf.reset(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!pair->leaf) {
    return InvalidArgument("no PEM certificate in " + cert_file + ": " + OpenSslError());
  }
  // Intermediates follow the leaf; the end of the file ends the chain.
  while (X509* extra = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr)) {
    pair->chain.emplace_back(extra);
  }
  ERR_clear_error();

  BioPtr key_bio(BIO_new_file(key_file.c_str(), "r"));
  if (!key_bio) {
    ERR_clear_error();
    return InvalidArgument("cannot read key file " + key_file);
  }
  pair->key.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!pair->key) {
    return InvalidArgument("no PEM private key in " + key_file + ": " + OpenSslError());
  }
  if (X509_check_private_key(pair->leaf.get(), pair->key.get()) != 1) {
    ERR_clear_error();
    return InvalidArgument("the key in " + key_file + " does not match the certificate in " +
                           cert_file);
  }
  char name[512];
  X509_NAME_oneline(X509_get_subject_name(pair->leaf.get()), name, sizeof(name));
  pair->subject = name;
  return std::shared_ptr<const Pair>(std::move(pair));
}

std::shared_ptr<const CertificateReloader::Pair> CertificateReloader::Current(bool force_check) {
  MutexLock lock(mu_);
  const auto now = clock_.Monotonic();
  if (!force_check && now - last_check_ < check_interval_) {
    return pair_;
  }
  last_check_ = now;
  FileStamp cert_stamp = StampOf(cert_file_);
  FileStamp key_stamp = StampOf(key_file_);
  if (cert_stamp == cert_stamp_ && key_stamp == key_stamp_) {
    return pair_;
  }
  auto pair = ReadPair(cert_file_, key_file_);
  if (!pair.ok()) {
    // Keep serving the old pair; try again on the next check (the stamps stay stale).
    ++reload_failures_;
    last_error_ = pair.error();
    last_check_failed_ = true;
    log::Warn("certificate reload failed; serving the previous certificate",
              {{"error", pair.error().ToString()}});
    return pair_;
  }
  pair_ = std::move(pair).value();
  cert_stamp_ = cert_stamp;
  key_stamp_ = key_stamp;
  last_check_failed_ = false;
  ++reloads_;
  log::Info("serving certificate reloaded", {{"subject", pair_->subject}});
  return pair_;
}

Status CertificateReloader::ReloadIfChanged() {
  Current(/*force_check=*/true);
  MutexLock lock(mu_);
  if (last_check_failed_) {
    return last_error_;
  }
  return OkStatus();
}

Status CertificateReloader::ConfigureContext(SSL_CTX* ctx) {
  std::shared_ptr<const Pair> pair = Current(/*force_check=*/false);
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    return Internal("cannot set the minimum TLS version: " + OpenSslError());
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) {
    return Internal("cannot set the TLS 1.2 cipher list: " + OpenSslError());
  }
  if (SSL_CTX_use_certificate(ctx, pair->leaf.get()) != 1) {
    return Internal("cannot use the certificate: " + OpenSslError());
  }
  for (const X509Ptr& extra : pair->chain) {
    if (SSL_CTX_add1_chain_cert(ctx, extra.get()) != 1) {
      return Internal("cannot add a chain certificate: " + OpenSslError());
    }
  }
  if (SSL_CTX_use_PrivateKey(ctx, pair->key.get()) != 1) {
    return Internal("cannot use the private key: " + OpenSslError());
  }
  return OkStatus();
}

uint64_t CertificateReloader::reloads() const {
  MutexLock lock(mu_);
  return reloads_;
}

uint64_t CertificateReloader::reload_failures() const {
  MutexLock lock(mu_);
  return reload_failures_;
}

std::string CertificateReloader::subject() const {
  MutexLock lock(mu_);
  return pair_->subject;
}

}  // namespace agentbudget::tls
