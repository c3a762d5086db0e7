#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "common/result.h"

namespace agentbudget::testing {

// A self-signed ECDSA P-256 certificate for `common_name` (SANs 127.0.0.1 and localhost),
// written as PEM to <dir>/<stem>.crt and <dir>/<stem>.key. Overwrites existing files.
struct CertificateFiles {
  std::string cert_file;
  std::string key_file;
  std::string cert_pem;
};
Result<CertificateFiles> WriteSelfSignedCertificate(const std::string& dir,
                                                    const std::string& stem,
                                                    const std::string& common_name);

// A fresh private directory under $TMPDIR (or /tmp), removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct RawExchange {
  std::string response;      // everything the server sent until it closed or the deadline
  std::string peer_subject;  // TLS only: the server certificate's subject
};

// Connects to 127.0.0.1:port, sends `request` verbatim, then reads until the server closes
// the connection, a complete response with Content-Length has arrived, or `deadline` passes.
// With `tls`, handshakes first (no verification; `max_version` bounds the protocol, e.g.
// TLS1_1_VERSION). Fails with kUnavailable when connecting or the handshake fails.
Result<RawExchange> RawHttpExchange(uint16_t port, const std::string& request, bool tls,
                                    int max_version = TLS1_3_VERSION,
                                    std::chrono::milliseconds deadline = std::chrono::seconds(5));

// The status code of an HTTP/1.1 response ("HTTP/1.1 413 ..."), or -1.
int StatusOf(const std::string& response);
// The body after the blank line, or "".
std::string BodyOf(const std::string& response);

}  // namespace agentbudget::testing
