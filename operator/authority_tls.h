#pragma once

#include <string>

#include "common/result.h"
#include "operator/certs/x509.h"

namespace agentbudget::op {

// The files the leader's authority listener reads its own issued certificate from
// (common/tls_reloader.h picks up each rewrite).

// `dir`, created with mode 0700 when missing; when `dir` is empty, a fresh private
// directory under $TMPDIR (or /tmp). Fails with kInvalidArgument naming the directory when
// it cannot be created.
Result<std::string> PrepareTlsDir(const std::string& dir);

// The certificate and key files in `dir`.
std::string CertFile(const std::string& dir);
std::string KeyFile(const std::string& dir);

// Writes `pair` into CertFile(dir) and KeyFile(dir) (mode 0600), each replaced atomically
// by a rename; a file whose content is unchanged is left alone. Fails with kUnavailable
// naming the file.
Status InstallKeyPair(const std::string& dir, const certs::CertificateAndKey& pair);

}  // namespace agentbudget::op
