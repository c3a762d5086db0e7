#include "operator/authority_tls.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace agentbudget::op {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// Replaces `path` with `content` (mode 0600) by writing a sibling and renaming it.
Status WriteAtomically(const std::string& path, const std::string& content) {
  if (ReadAll(path) == content) {
    return OkStatus();
  }
  const std::string temporary = path + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Unavailable("cannot write " + temporary + ": " + std::strerror(errno));
  }
  size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      const std::string error = std::strerror(errno);
      ::close(fd);
      return Unavailable("cannot write " + temporary + ": " + error);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return Unavailable("cannot write " + temporary + ": " + std::strerror(errno));
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    return Unavailable("cannot replace " + path + ": " + std::strerror(errno));
  }
  return OkStatus();
}

}  // namespace

Result<std::string> PrepareTlsDir(const std::string& dir) {
  if (!dir.empty()) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return InvalidArgument("--authority-tls-dir " + dir + ": " + std::strerror(errno));
    }
    return dir;
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                        "/agentbudget-authority-tls-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) {
    return InvalidArgument("cannot create a directory " + pattern + ": " + std::strerror(errno) +
                           " (set --authority-tls-dir)");
  }
  return std::string(buffer.data());
}

std::string CertFile(const std::string& dir) { return dir + "/tls.crt"; }
std::string KeyFile(const std::string& dir) { return dir + "/tls.key"; }

Status InstallKeyPair(const std::string& dir, const certs::CertificateAndKey& pair) {
  if (Status key = WriteAtomically(KeyFile(dir), pair.key_pem); !key.ok()) {
    return key;
  }
  return WriteAtomically(CertFile(dir), pair.cert_pem);
}

}  // namespace agentbudget::op
