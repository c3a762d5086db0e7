#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/file_stamp.h"
#include "common/mutex.h"
#include "common/result.h"

namespace agentbudget::webhook {

// The authority's CA certificates that meters trust, from --authority-ca-file: read at start,
// and again on a call that finds the file's inode, size or modification time changed, so a
// rotated CA reaches the meters of pods created after the rotation without a restart (stat()
// follows the `..data` symlink swap of a mounted Secret or ConfigMap). A changed file that
// cannot be read, is larger than kMaxBytes or holds no PEM certificate keeps the previous
// content and is logged once per change.
// Thread-safe.
class AuthorityCaFile {
 public:
  // Certificates for an environment variable: a few KiB in practice.
  static constexpr int64_t kMaxBytes = 64 * 1024;

  // Reads `path` now. Fails with kInvalidArgument naming the path when it cannot be read,
  // is larger than kMaxBytes or holds no "-----BEGIN CERTIFICATE-----".
  static Result<std::unique_ptr<AuthorityCaFile>> Load(std::string path);

  // The PEM text, re-read first when the file changed (see above).
  std::string Pem() EXCLUDES(mu_);

 private:
  AuthorityCaFile(std::string path, FileStamp stamp, std::string pem);
  static Result<std::string> Read(const std::string& path);

  const std::string path_;
  Mutex mu_;
  FileStamp stamp_ GUARDED_BY(mu_);
  std::string pem_ GUARDED_BY(mu_);
};

}  // namespace agentbudget::webhook
