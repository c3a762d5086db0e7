#pragma once

#include <cpprest/http_listener.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "tests/meter/free_port.h"

namespace agentbudget::meter::testing {

// A loopback HTTP server whose answers the test scripts: `handler` gets each request and
// replies to it. Records the path and body of every request. Thread-safe.
class ScriptedServer {
 public:
  using Handler = std::function<void(web::http::http_request, const std::string& body)>;

  explicit ScriptedServer(Handler handler) : handler_(std::move(handler)) {
    port_ = FreePort();
    listener_ = std::make_unique<web::http::experimental::listener::http_listener>(url());
    listener_->support([this](web::http::http_request request) {
      const std::string body = request.extract_utf8string(true).get();
      {
        MutexLock lock(mu_);
        seen_.emplace_back(request.relative_uri().to_string(), body);
      }
      handler_(request, body);
    });
    listener_->open().wait();
  }
  ~ScriptedServer() { listener_->close().wait(); }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::vector<std::pair<std::string, std::string>> seen() {
    MutexLock lock(mu_);
    return seen_;
  }

 private:
  Handler handler_;
  int port_ = 0;
  std::unique_ptr<web::http::experimental::listener::http_listener> listener_;
  Mutex mu_;
  std::vector<std::pair<std::string, std::string>> seen_ GUARDED_BY(mu_);
};

}  // namespace agentbudget::meter::testing
