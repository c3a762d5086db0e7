#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/file_stamp.h"
#include "common/mutex.h"
#include "common/result.h"

namespace agentbudget::tls {

// A serving certificate (with its chain) and private key read from PEM files, re-read when
// the files change so that rotated certificates take effect without a restart.
//
// Rotation: every ConfigureContext() call (one per accepted TLS connection) checks, at
// most once per `check_interval`, whether either file's inode, size or modification time
// changed; if so both files are re-read. A pair that fails to load or whose key does not
// match the certificate is rejected and the previous pair keeps serving, so a half-written
// rotation (certificate replaced, key not yet) never breaks the server. Kubernetes Secret
// volumes (an atomic symlink swap of `..data`) are picked up because stat() follows links.
//
// Thread-safe: ConfigureContext() is called concurrently from the listener's threads.
class CertificateReloader {
 public:
  // Reads both files now. Fails with kInvalidArgument when a file is missing, is not PEM,
  // or the key does not match the certificate. `clock` must outlive the reloader.
  static Result<std::unique_ptr<CertificateReloader>> Load(
      std::string cert_file, std::string key_file,
      std::chrono::milliseconds check_interval = std::chrono::seconds(1),
      const Clock& clock = SystemClock::Instance());

  ~CertificateReloader();
  CertificateReloader(const CertificateReloader&) = delete;
  CertificateReloader& operator=(const CertificateReloader&) = delete;

  // Applies the server settings to a fresh context: TLS 1.2 minimum, no compression, no
  // renegotiation, the current certificate chain and key. Reloads first if the files
  // changed (see above). Fails with kInternal if OpenSSL refuses the settings.
  Status ConfigureContext(SSL_CTX* ctx) EXCLUDES(mu_);

  // Re-reads the files if they changed since the last load, regardless of the interval.
  // Returns the load error when they changed but the new pair is invalid (the previous
  // pair is kept). OK when nothing changed or the reload succeeded.
  Status ReloadIfChanged() EXCLUDES(mu_);

  // How many times a changed pair was loaded successfully (not counting the first load),
  // and how many reload attempts failed. For metrics and tests.
  uint64_t reloads() const EXCLUDES(mu_);
  uint64_t reload_failures() const EXCLUDES(mu_);

  // The subject of the certificate currently served, e.g. "CN=webhook".
  std::string subject() const EXCLUDES(mu_);

 private:
  struct Pair;  // the parsed certificate chain and key (OpenSSL objects)

  CertificateReloader(std::string cert_file, std::string key_file,
                      std::chrono::milliseconds check_interval, const Clock& clock);
  static Result<std::shared_ptr<const Pair>> ReadPair(const std::string& cert_file,
                                                      const std::string& key_file);
  std::shared_ptr<const Pair> Current(bool force_check) EXCLUDES(mu_);

  const std::string cert_file_;
  const std::string key_file_;
  const std::chrono::milliseconds check_interval_;
  const Clock& clock_;

  mutable Mutex mu_;
  std::shared_ptr<const Pair> pair_ GUARDED_BY(mu_);
  FileStamp cert_stamp_ GUARDED_BY(mu_);
  FileStamp key_stamp_ GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point last_check_ GUARDED_BY(mu_);
  uint64_t reloads_ GUARDED_BY(mu_) = 0;
  uint64_t reload_failures_ GUARDED_BY(mu_) = 0;
  Error last_error_ GUARDED_BY(mu_);
  bool last_check_failed_ GUARDED_BY(mu_) = false;
};

}  // namespace agentbudget::tls
