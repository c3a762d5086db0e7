// The proxy under faults of its peers: slow clients, upstreams that stall, reset or
// compress, and HTTPS upstreams behind a private CA.

// GoogleTest before cpprestsdk: cpprestsdk defines a macro U that breaks gtest's templates.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/meter/proxy_fixture.h"
#include "tests/meter/raw_upstream.h"
#include "tests/meter/scripted_server.h"

namespace agentbudget::meter {
namespace {

namespace http = web::http;
using nlohmann::json;
using testing::Eventually;
using testing::ProxyTest;
using testing::RawUpstream;
using testing::ScriptedServer;

constexpr const char* kStreamHeaders =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
constexpr const char* kMessageStart =
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":"
    "\"claude-haiku-4-5\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n";
constexpr const char* kStreamRequest =
    R"({"model":"claude-haiku-4-5","max_tokens":10,"stream":true,"messages":[]})";

// Reads what the meter sends on `fd` until `needle` arrives, the meter closes, or ten
// seconds pass without data.
std::string ReadUntil(int fd, const std::string& needle) {
  const timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string data;
  char buffer[4096];
  ssize_t n = 0;
  while (data.find(needle) == std::string::npos &&
         (n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0) {
    data.append(buffer, static_cast<size_t>(n));
  }
  return data;
}

// A connection to the meter at `port` with kStreamRequest sent on it, for reading the answer
// byte by byte (ReadUntil). The caller closes it.
int PostStreamRaw(int port) {
  const int fd = testing::ConnectLoopback(port);
  const std::string request = std::string("POST /anthropic/v1/messages HTTP/1.1\r\nHost: t\r\n"
                                          "Content-Type: application/json\r\nContent-Length: ") +
                              std::to_string(std::string(kStreamRequest).size()) + "\r\n\r\n" +
                              kStreamRequest;
  EXPECT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  return fd;
}

std::string ReadBody(http::http_response& response) {
  try {
    return response.extract_utf8string(true).get();
  } catch (const std::exception& e) {
    return std::string("<body cut: ") + e.what() + ">";
  }
}

bool ChargedAsEstimated(const Records& records) {
  return records.Exposition().find(
             "agentbudget_meter_estimated_usage_total{provider=\"anthropic\"} 1") !=
         std::string::npos;
}

// A slow client holds its own connection only: its call gives up after the client timeout
// (the 408 goes out once cpprestsdk has read the body), and other calls are served.
TEST_F(ProxyTest, ASlowClientTimesOutWhileOthersAreServed) {
  ScriptedServer upstream([](http::http_request r, const std::string&) {
    r.reply(200,
            R"({"model":"claude-haiku-4-5","usage":{"input_tokens":1,"output_tokens":1}})",
            "application/json")
        .wait();
  });
  StartMeter(upstream.url(), [](Config& c) { c.client_timeout = std::chrono::seconds(1); });
  // Slowloris: headers promise a body of 40 bytes, 8 arrive, then nothing for a while.
  const std::string body = R"({"model":"claude-haiku-4-5","max_tokens":1})";
  std::vector<int> slow;
  for (int i = 0; i < 16; ++i) {
    const int fd = testing::ConnectLoopback(port_);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(RawUpstream::Send(
        fd, "POST /anthropic/v1/messages HTTP/1.1\r\nHost: meter\r\n"
            "content-type: application/json\r\ncontent-length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, 8)));
    slow.push_back(fd);
  }
  http::http_response served = Post("/anthropic/v1/messages", body);
  EXPECT_EQ(served.status_code(), 200);
  // The slow calls give up; none is reserved or forwarded, even once its body ends.
  ASSERT_TRUE(Eventually([&] {
    return records_->Exposition().find("agentbudget_meter_rejected_requests_total{provider="
                                       "\"anthropic\",reason=\"client_timeout\"} 16") !=
           std::string::npos;
  }));
  for (const int fd : slow) {
    ASSERT_TRUE(RawUpstream::Send(fd, body.substr(8)));
    const std::string answer = ReadUntil(fd, "within 1 s");
    EXPECT_EQ(answer.rfind("HTTP/1.1 408", 0), 0u) << answer;
    EXPECT_NE(answer.find("the request body was not received within 1 s"), std::string::npos)
        << answer;
    ::close(fd);
  }
  EXPECT_EQ(upstream.seen().size(), 1u);
  EXPECT_EQ(enforcer_->totals().requests, 1);
}

TEST_F(ProxyTest, AnUpstreamThatNeverAnswersTimesOutAndIsNotCharged) {
  RawUpstream upstream([](int, RawUpstream& self) { self.Hold(); });
  StartMeter(upstream.url(), [](Config& c) { c.upstream_timeout = std::chrono::seconds(1); });
  http::http_response response =
      Post("/openai/v1/chat/completions", R"({"model":"gpt-5","messages":[]})");
  const json error = json::parse(ReadBody(response));
  EXPECT_EQ(response.status_code(), 504) << error.dump();
  EXPECT_EQ(error["error"]["code"], "upstream_unavailable");
  EXPECT_NE(error["error"]["message"].get<std::string>().find("upstream timed out"),
            std::string::npos);
  ASSERT_TRUE(Eventually([&] { return enforcer_->totals().reserved == core::Money(); }));
  EXPECT_EQ(enforcer_->totals().spent, core::Money());
}

TEST_F(ProxyTest, AStreamThatStallsIsCutAtTheTimeoutForTheClientTooAndChargedAsEstimated) {
  RawUpstream upstream([](int fd, RawUpstream& self) {
    RawUpstream::Send(fd, std::string(kStreamHeaders) + RawUpstream::Chunk(kMessageStart));
    self.Hold();
  });
  StartMeter(upstream.url(), [](Config& c) { c.upstream_timeout = std::chrono::seconds(1); });
  http::http_response response = Post("/anthropic/v1/messages", kStreamRequest);
  EXPECT_EQ(response.status_code(), 200);
  // The client sees the stream fail, not a complete answer.
  EXPECT_EQ(ReadBody(response).rfind("<body cut", 0), 0u);
  // Input as reported (5 tokens), output estimated from the text streamed (none).
  ASSERT_TRUE(Eventually([&] { return ChargedAsEstimated(*records_); }));
  EXPECT_EQ(enforcer_->totals().reserved, core::Money());
  EXPECT_GE(enforcer_->totals().tokens, 5);
  EXPECT_GT(enforcer_->totals().spent, core::Money());
}

TEST_F(ProxyTest, AStreamResetMidwayFailsTheClientsStreamAndIsChargedAsEstimated) {
  RawUpstream upstream([](int fd, RawUpstream&) {
    const std::string text_delta =
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"a few words of an answer\"}}\n\n";
    RawUpstream::Send(fd, std::string(kStreamHeaders) + RawUpstream::Chunk(kMessageStart) +
                              RawUpstream::Chunk(text_delta));
    RawUpstream::ResetOnClose(fd);
  });
  StartMeter(upstream.url());
  http::http_response response = Post("/anthropic/v1/messages", kStreamRequest);
  EXPECT_EQ(response.status_code(), 200);
  // The client sees the stream fail (no terminating chunk), as it would from the provider.
  EXPECT_EQ(ReadBody(response).rfind("<body cut", 0), 0u);
  ASSERT_TRUE(Eventually([&] { return ChargedAsEstimated(*records_); }));
  EXPECT_EQ(enforcer_->totals().reserved, core::Money());
  // 5 input tokens reported; the output estimated from the streamed text is at least one.
  EXPECT_GT(enforcer_->totals().tokens, 5);
}

// The provider sends one event (its chunk's closing CRLF included) and then nothing: the
// event reaches the client at once, not once the next chunk's size arrives.
TEST_F(ProxyTest, AnEventIsRelayedWhileTheProviderHoldsBackTheNext) {
  RawUpstream upstream([](int fd, RawUpstream& self) {
    RawUpstream::Send(fd, std::string(kStreamHeaders) + RawUpstream::Chunk(kMessageStart));
    self.Hold();
  });
  StartMeter(upstream.url());
  const int fd = PostStreamRaw(port_);
  const std::string answer = ReadUntil(fd, "}}}\n\n");
  ::close(fd);
  EXPECT_NE(answer.find(kMessageStart), std::string::npos) << answer;
}

// Headers, events and the terminating chunk in one write: the client gets them together,
// a complete answer, charged exactly as reported.
TEST_F(ProxyTest, AStreamArrivingWholeWithItsHeadersIsRelayedWholeAndChargedExactly) {
  RawUpstream upstream([](int fd, RawUpstream&) {
    const std::string delta =
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":7}}"
        "\n\n";
    const std::string stop = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    RawUpstream::Send(fd, std::string(kStreamHeaders) + RawUpstream::Chunk(kMessageStart) +
                              RawUpstream::Chunk(delta) + RawUpstream::Chunk(stop) +
                              "0\r\n\r\n");
  });
  StartMeter(upstream.url());
  http::http_response response = Post("/anthropic/v1/messages", kStreamRequest);
  EXPECT_EQ(response.status_code(), 200);
  const std::string body = ReadBody(response);
  EXPECT_EQ(body, std::string(kMessageStart) +
                      "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":"
                      "{\"output_tokens\":7}}\n\nevent: message_stop\ndata: "
                      "{\"type\":\"message_stop\"}\n\n");
  ASSERT_TRUE(Eventually([&] { return enforcer_->totals().tokens == 12; }))
      << enforcer_->totals().tokens;
  EXPECT_FALSE(ChargedAsEstimated(*records_));
}

// The body ends properly, but mid-event: the client's stream is cut (the complete events
// before reach it), and the call charged as estimated.
TEST_F(ProxyTest, AStreamEndingMidEventInItsLastWriteIsCutForTheClient) {
  RawUpstream upstream([](int fd, RawUpstream&) {
    RawUpstream::Send(fd, std::string(kStreamHeaders) + RawUpstream::Chunk(kMessageStart) +
                              RawUpstream::Chunk("event: content_block_delta\ndata: {") +
                              "0\r\n\r\n");
  });
  StartMeter(upstream.url());
  const int fd = PostStreamRaw(port_);
  const std::string answer = ReadUntil(fd, "\r\n0\r\n\r\n");
  ::close(fd);
  EXPECT_NE(answer.find("message_start"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("content_block_delta"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("\r\n0\r\n\r\n"), std::string::npos) << answer;
  ASSERT_TRUE(Eventually([&] { return ChargedAsEstimated(*records_); }));
}

TEST_F(ProxyTest, UpstreamIsAskedForIdentityAndACompressedAnswerIsRelayedUnchanged) {
  const std::string compressed("\x1f\x8b\x08\x00opaque", 10);
  std::string accept_encoding;
  ScriptedServer upstream([&](http::http_request r, const std::string&) {
    accept_encoding = r.headers()[http::header_names::accept_encoding];
    http::http_response response(200);
    response.set_body(std::vector<uint8_t>(compressed.begin(), compressed.end()));
    response.headers().set_content_type("application/json");
    response.headers().add(http::header_names::content_encoding, "gzip");
    r.reply(response).wait();
  });
  StartMeter(upstream.url());
  http::http_request request(http::methods::POST);
  request.set_request_uri("/anthropic/v1/messages");
  request.set_body(R"({"model":"claude-haiku-4-5","max_tokens":10})", "application/json");
  request.headers().add(http::header_names::accept_encoding, "gzip, br");
  http::http_response response = client_->request(request).get();
  EXPECT_EQ(accept_encoding, "identity");
  EXPECT_EQ(response.status_code(), 200);
  EXPECT_EQ(response.headers()[http::header_names::content_encoding], "gzip");
  const std::vector<uint8_t> body = response.extract_vector().get();
  EXPECT_EQ(std::string(body.begin(), body.end()), compressed);
  ASSERT_TRUE(Eventually([&] { return ChargedAsEstimated(*records_); }));
}

// An HTTPS provider whose certificate a private CA signed, made with openssl here.
class HttpsUpstreamTest : public ProxyTest {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/meter-tls-" + std::to_string(::getpid());
    const std::string script =
        "set -e; mkdir -p " + dir_ + "; cd " + dir_ +
        "; for ca in ca other-ca; do openssl req -x509 -newkey rsa:2048 -nodes -days 1"
        " -subj /CN=$ca -keyout $ca.key -out $ca.pem 2>/dev/null; done"
        "; openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key"
        " -out server.csr 2>/dev/null"
        "; printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > san.ext"
        "; openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1"
        " -extfile san.ext -out server.pem 2>/dev/null";
    ASSERT_EQ(std::system(script.c_str()), 0)
        << "openssl is needed to make the test's certificates: " << script;
    const int port = testing::FreePort();
    url_ = "https://localhost:" + std::to_string(port);
    http::experimental::listener::http_listener_config config;
    const std::string dir = dir_;
    config.set_ssl_context_callback([dir](boost::asio::ssl::context& context) {
      context.use_certificate_chain_file(dir + "/server.pem");
      context.use_private_key_file(dir + "/server.key", boost::asio::ssl::context::pem);
    });
    server_ = std::make_unique<http::experimental::listener::http_listener>(url_, config);
    server_->support([](http::http_request r) {
      r.reply(200,
              R"({"model":"claude-haiku-4-5","usage":{"input_tokens":3,"output_tokens":4}})",
              "application/json")
          .wait();
    });
    server_->open().wait();
  }
  void TearDown() override {
    proxy_.reset();
    server_->close().wait();
    std::system(("rm -rf " + dir_).c_str());
  }

  std::string dir_;
  std::string url_;
  std::unique_ptr<http::experimental::listener::http_listener> server_;
};

TEST_F(HttpsUpstreamTest, TheCustomCaIsTrusted) {
  StartMeter(url_, [&](Config& c) { c.upstream_ca_file = dir_ + "/ca.pem"; });
  http::http_response response =
      Post("/anthropic/v1/messages", R"({"model":"claude-haiku-4-5","max_tokens":10})");
  EXPECT_EQ(response.status_code(), 200) << ReadBody(response);
  ASSERT_TRUE(Eventually([&] { return enforcer_->totals().tokens == 7; }));
}

TEST_F(HttpsUpstreamTest, ACertificateFromAnotherCaIsRefused) {
  StartMeter(url_, [&](Config& c) { c.upstream_ca_file = dir_ + "/other-ca.pem"; });
  http::http_response response =
      Post("/anthropic/v1/messages", R"({"model":"claude-haiku-4-5","max_tokens":10})");
  EXPECT_EQ(response.status_code(), 502);
  EXPECT_NE(ReadBody(response).find("upstream unreachable"), std::string::npos);
  ASSERT_TRUE(Eventually([&] { return enforcer_->totals().reserved == core::Money(); }));
  EXPECT_EQ(enforcer_->totals().tokens, 0);
}

}  // namespace
}  // namespace agentbudget::meter
