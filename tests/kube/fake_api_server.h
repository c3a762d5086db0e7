#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "kube/transport.h"

namespace agentbudget::kube::testing {

struct ReceivedRequest {
  std::string method;
  std::string target;  // path and query, as sent
  HttpHeaders headers;  // lower-case names
  std::string body;

  std::string Path() const { return target.substr(0, target.find('?')); }
  // The decoded value of query parameter `name`, or "" when absent.
  std::string Query(std::string_view name) const;
};

// One accepted connection, handed to the handler to answer however the test needs: whole
// responses, chunked bodies cut anywhere, stalls, or a dropped connection. Methods return
// false once the peer has gone. Used by one handler thread at a time.
class Connection {
 public:
  explicit Connection(int fd) : fd_(fd) {}
  bool Write(std::string_view bytes);
  bool Respond(int status, std::string_view body, const HttpHeaders& headers = {});
  bool RespondJson(int status, const std::string& json) { return Respond(status, json); }
  bool StartChunked(int status);
  bool WriteChunk(std::string_view data);
  bool EndChunked();
  // Closes the socket without finishing the response, as a crashed server would.
  void Drop();
  bool dropped() const { return fd_ < 0; }

 private:
  int fd_;
};

// A scripted HTTP/1.1 server on 127.0.0.1, port chosen by the kernel. Each connection gets
// its own thread; each request on it calls the handler, which must answer (or Drop()).
// Records every request. Thread-safe.
class FakeApiServer {
 public:
  using Handler = std::function<void(const ReceivedRequest&, Connection&)>;

  explicit FakeApiServer(Handler handler);
  // Stops accepting, shuts every connection down and joins the threads. Handlers that
  // wait must watch stopping().
  ~FakeApiServer();

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<ReceivedRequest> requests() const;
  bool stopping() const { return stopping_.load(); }

 private:
  void AcceptLoop();
  void Serve(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};  // synchronises itself
  mutable Mutex mu_;
  std::vector<ReceivedRequest> requests_ GUARDED_BY(mu_);
  std::vector<int> fds_ GUARDED_BY(mu_);
  std::vector<std::thread> threads_ GUARDED_BY(mu_);
  std::thread accept_thread_;
};

// Polls `condition` until it holds or `timeout` passes; returns its last value.
bool WaitUntil(const std::function<bool()>& condition,
               std::chrono::milliseconds timeout = std::chrono::seconds(10));

// A JSON Status body as the API server sends it.
std::string StatusJson(int code, std::string_view reason, std::string_view message);

}  // namespace agentbudget::kube::testing
