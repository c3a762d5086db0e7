#pragma once

// GoogleTest before cpprestsdk: cpprestsdk defines a macro U that breaks gtest's templates.
#include <gtest/gtest.h>

#include <cpprest/http_client.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "meter/default_rates.h"
#include "meter/provider_keys.h"
#include "meter/proxy.h"
#include "tests/meter/free_port.h"

namespace agentbudget::meter::testing {

namespace http = web::http;

// Polls `done` until it holds or ten seconds pass: the meter accounts for a call just
// after the client has the whole answer.
inline bool Eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::yield();
  }
  return true;
}

class ProxyTest : public ::testing::Test {
 protected:
  // Starts the meter in front of `upstream`; `adjust` may change its configuration. The
  // provider keys are keys_ when a test set them, else the configuration's key files.
  void StartMeter(const std::string& upstream,
                  const std::function<void(Config&)>& adjust = nullptr) {
    Config config;
    config.listen_port = FreePort();
    config.anthropic_upstream = upstream;
    config.openai_upstream = upstream;
    config.max_request_bytes = 1 << 20;
    config.upstream_timeout = std::chrono::seconds(5);
    if (adjust) {
      adjust(config);
    }
    port_ = config.listen_port;
    Enforcer::Options enforcer_options;
    enforcer_options.limits = config.envelope;
    enforcer_ = std::make_unique<Enforcer>(enforcer_options, nullptr, nullptr);
    records_ = Records::Create("").value();
    if (keys_ == nullptr) {
      keys_ = std::make_unique<FileKeys>(config.anthropic_key_file, config.openai_key_file);
    }
    proxy_ = std::make_unique<Proxy>(config, rates_, *enforcer_, *records_, *keys_);
    ASSERT_TRUE(proxy_->Start().ok());
    client_ = std::make_unique<http::client::http_client>(
        "http://127.0.0.1:" + std::to_string(config.listen_port));
  }

  http::http_response Post(const std::string& path, const std::string& body,
                           const std::string& encoding = "") {
    http::http_request request(http::methods::POST);
    request.set_request_uri(path);
    request.set_body(body, "application/json");
    if (!encoding.empty()) {
      request.headers().add(http::header_names::content_encoding, encoding);
    }
    return client_->request(request).get();
  }

  int port_ = 0;
  core::RateCard rates_ = *core::RateCard::FromYaml(DefaultRatesYaml());
  std::unique_ptr<Enforcer> enforcer_;
  std::unique_ptr<Records> records_;
  std::unique_ptr<ProviderKeys> keys_;
  std::unique_ptr<Proxy> proxy_;
  std::unique_ptr<http::client::http_client> client_;
};

}  // namespace agentbudget::meter::testing
