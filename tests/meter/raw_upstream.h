#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"

namespace agentbudget::meter::testing {

// A loopback TCP server for the faults an HTTP library will not produce on purpose: a
// provider that stalls, resets a connection mid-stream, or answers in bytes of its own.
// Each connection is handed to `script` on a thread of its own once its request (headers
// and Content-Length body) has been read; the connection is closed when `script` returns.
// The destructor releases Hold(), stops accepting and joins every thread.
class RawUpstream {
 public:
  using Script = std::function<void(int fd, RawUpstream& upstream)>;

  explicit RawUpstream(Script script) : script_(std::move(script)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listen_fd_, 64) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      std::abort();
    }
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }

  ~RawUpstream() {
    {
      MutexLock lock(mu_);
      stopping_ = true;
    }
    released_.SignalAll();
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    for (std::thread& connection : connections_) {
      connection.join();
    }
    ::close(listen_fd_);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Blocks until the server is being destroyed: a provider that never answers.
  void Hold() {
    MutexLock lock(mu_);
    released_.Wait(mu_, [this]() REQUIRES(mu_) { return stopping_; });
  }

  static bool Send(int fd, const std::string& bytes) {
    return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }

  // Makes the close at the end of the script a reset (RST), not an orderly end.
  static void ResetOnClose(int fd) {
    const linger abort{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof(abort));
  }

  // A chunk of a chunked HTTP body.
  static std::string Chunk(const std::string& data) {
    char size[32];
    std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
    return size + data + "\r\n";
  }

 private:
  void Accept() {
    while (true) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) {
        return;
      }
      connections_.emplace_back([this, fd] {
        if (ReadRequest(fd)) {
          script_(fd, *this);
        }
        ::close(fd);
      });
    }
  }

  static bool ReadRequest(int fd) {
    std::string data;
    char buffer[4096];
    size_t end = std::string::npos;
    while ((end = data.find("\r\n\r\n")) == std::string::npos) {
      const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        return false;
      }
      data.append(buffer, static_cast<size_t>(n));
    }
    std::string headers = data.substr(0, end);
    for (char& c : headers) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    const size_t at = headers.find("content-length:");
    const size_t length = at == std::string::npos ? 0 : std::strtoul(&headers[at + 15], nullptr, 10);
    while (data.size() < end + 4 + length) {
      const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        return false;
      }
      data.append(buffer, static_cast<size_t>(n));
    }
    return true;
  }

  Script script_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::vector<std::thread> connections_;  // only the acceptor adds, joined after it ends
  Mutex mu_;
  CondVar released_;
  bool stopping_ GUARDED_BY(mu_) = false;
};

}  // namespace agentbudget::meter::testing
