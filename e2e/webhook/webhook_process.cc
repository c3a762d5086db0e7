#include "e2e/webhook/webhook_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "tests/common/test_tls.h"

extern char** environ;

namespace agentbudget::e2e {
namespace {

int ConnectLoopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Copies bytes both ways until either side closes.
void Pipe(int a, int b) {
  char buf[16384];
  pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, 30000) <= 0) {
      break;
    }
    bool done = false;
    for (int i = 0; i < 2; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      ssize_t n = ::recv(fds[i].fd, buf, sizeof(buf), 0);
      if (n <= 0 || ::send(fds[1 - i].fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) {
        done = true;
      }
    }
    if (done) {
      break;
    }
  }
  ::close(a);
  ::close(b);
}

}  // namespace

Result<uint16_t> FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(addr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    if (fd >= 0) {
      ::close(fd);
    }
    return Unavailable("cannot find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

WebhookProcess::WebhookProcess(std::string binary, std::string kubeconfig, std::string cert_file,
                               std::string key_file, std::string log_file,
                               std::vector<std::string> extra_args)
    : binary_(std::move(binary)),
      kubeconfig_(std::move(kubeconfig)),
      cert_file_(std::move(cert_file)),
      key_file_(std::move(key_file)),
      log_file_(std::move(log_file)),
      extra_args_(std::move(extra_args)) {}

WebhookProcess::~WebhookProcess() { Stop(); }

Status WebhookProcess::Start(std::chrono::milliseconds timeout) {
  auto port = FreeLoopbackPort();
  if (!port.ok()) {
    return std::move(port).error();
  }
  port_ = *port;
  std::vector<std::string> args = {binary_,
                                   "--listen-address=127.0.0.1",
                                   "--port=" + std::to_string(port_),
                                   "--tls-cert-file=" + cert_file_,
                                   "--tls-key-file=" + key_file_,
                                   "--kubeconfig=" + kubeconfig_,
                                   "--authority-url=https://127.0.0.1:8443",
                                   "--meter-image=agentbudget/meter:e2e",
                                   // Fan-out claims block on the API server; mutations must
                                   // not queue behind them during a burst.
                                   "--worker-threads=64",
                                   "--operator-users=agentbudget-admin",
                                   "--job-controller-users=agentbudget-admin"};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  int rc = posix_spawn(&pid_, binary_.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    return Internal("cannot spawn " + binary_);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto ready = testing::RawHttpExchange(port_, "GET /readyz HTTP/1.1\r\nHost: w\r\n\r\n", true,
                                          TLS1_3_VERSION, std::chrono::milliseconds(500));
    if (ready.ok() && testing::StatusOf(ready->response) == 200) {
      return OkStatus();
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Internal("the webhook exited during start-up; see " + log_file_);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // poll interval
  }
  return MakeError(ErrorCode::kDeadlineExceeded, "the webhook did not become ready; see " + log_file_);
}

void WebhookProcess::Stop() {
  if (pid_ <= 0) {
    return;
  }
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval
  }
  pid_ = -1;
}

Result<std::string> WebhookProcess::Get(const std::string& path) const {
  auto exchange = testing::RawHttpExchange(port_, "GET " + path + " HTTP/1.1\r\nHost: w\r\n\r\n",
                                           true);
  if (!exchange.ok()) {
    return std::move(exchange).error();
  }
  return testing::BodyOf(exchange->response);
}

int64_t WebhookProcess::RssKib() const {
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stoll(line.substr(6));
    }
  }
  return -1;
}

RoundRobinProxy::RoundRobinProxy(std::vector<uint16_t> backends)
    : backends_(std::move(backends)) {}

RoundRobinProxy::~RoundRobinProxy() {
  if (stop_pipe_[1] >= 0) {
    (void)::write(stop_pipe_[1], "x", 1);
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
  for (int fd : {listen_fd_, stop_pipe_[0], stop_pipe_[1]}) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
}

Status RoundRobinProxy::Start() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(addr);
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 512) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &length) != 0 ||
      ::pipe(stop_pipe_) != 0) {
    return Unavailable("cannot listen for the proxy");
  }
  port_ = ntohs(addr.sin_port);
  threads_.emplace_back([this] { AcceptLoop(); });
  return OkStatus();
}

void RoundRobinProxy::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) <= 0 || (fds[1].revents & POLLIN) != 0) {
      return;
    }
    int client = ::accept(listen_fd_, nullptr, nullptr);
    if (client < 0) {
      continue;
    }
    int backend = ConnectLoopback(backends_[next_++ % backends_.size()]);
    if (backend < 0) {
      ::close(client);
      continue;
    }
    // Detached: a pipe ends when either side closes; the API server closes idle
    // connections and the webhooks stop before the proxy is destroyed.
    std::thread(Pipe, client, backend).detach();
  }
}

}  // namespace agentbudget::e2e
