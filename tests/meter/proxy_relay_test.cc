// How the proxy relays under load and faults of the connections themselves: stale pooled
// upstream connections, providers that cannot be reached, slow readers and slow providers,
// many idle clients and connection churn.

// GoogleTest before cpprestsdk: cpprestsdk defines a macro U that breaks gtest's templates.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/meter/proxy_fixture.h"
#include "tests/meter/raw_upstream.h"

namespace agentbudget::meter {
namespace {

namespace http = web::http;
using nlohmann::json;
using testing::Eventually;
using testing::ProxyTest;
using testing::RawUpstream;

constexpr const char* kRequest = R"({"model":"claude-haiku-4-5","max_tokens":10})";
constexpr const char* kStreamRequest =
    R"({"model":"claude-haiku-4-5","max_tokens":10,"stream":true})";
constexpr const char* kStreamHeaders =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";

std::string MessageAnswer() {
  const std::string body =
      R"({"model":"claude-haiku-4-5","usage":{"input_tokens":1,"output_tokens":2}})";
  return "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string Event(const std::string& type, const std::string& data) {
  return "event: " + type + "\ndata: " + data + "\n\n";
}

std::string MessageStart() {
  return Event("message_start",
               R"({"type":"message_start","message":{"model":"claude-haiku-4-5",)"
               R"("usage":{"input_tokens":5,"output_tokens":1}}})");
}

std::string MessageEnd(int output_tokens) {
  return Event("message_delta", R"({"type":"message_delta","usage":{"output_tokens":)" +
                                    std::to_string(output_tokens) + "}}") +
         Event("message_stop", R"({"type":"message_stop"})");
}

size_t CountOfWord(const std::string& text) {
  size_t count = 0;
  for (size_t at = text.find("word "); at != std::string::npos; at = text.find("word ", at + 1)) {
    ++count;
  }
  return count;
}

// The provider answers each request, then closes its connection at once, as a provider
// does with keep-alive connections that idled past its timeout: every pooled connection
// the meter holds is stale by the next call.
TEST_F(ProxyTest, StalePooledUpstreamConnectionsCostNoFailedCall) {
  std::atomic<int> connections{0};
  RawUpstream upstream([&connections](int fd, RawUpstream&) {
    ++connections;
    RawUpstream::Send(fd, MessageAnswer());
  });
  StartMeter(upstream.url());
  for (int i = 0; i < 30; ++i) {
    http::http_response response = Post("/anthropic/v1/messages", kRequest);
    ASSERT_EQ(response.status_code(), 200) << "call " << i << ": "
                                           << response.extract_utf8string().get();
  }
  ASSERT_TRUE(Eventually([&] { return enforcer_->totals().tokens == 90; }));
  EXPECT_EQ(enforcer_->totals().requests, 30);
  EXPECT_GE(connections.load(), 30);
}

// A provider that cannot be reached never saw the call: it is not one of the run's
// maxRequests, so the run can go on once the provider is back.
TEST_F(ProxyTest, CallsThatNeverReachedTheProviderDoNotCountTowardsMaxRequests) {
  StartMeter("http://127.0.0.1:" + std::to_string(testing::FreePort()),
             [](Config& c) { c.envelope.max_requests = 2; });
  for (int i = 0; i < 5; ++i) {
    http::http_response response = Post("/anthropic/v1/messages", kRequest);
    const json error = json::parse(response.extract_utf8string().get());
    ASSERT_EQ(response.status_code(), 502) << error.dump();
    EXPECT_EQ(error["error"]["type"], "api_error");
  }
  ASSERT_TRUE(Eventually([&] { return enforcer_->totals().reserved == core::Money(); }));
  EXPECT_EQ(enforcer_->totals().requests, 0);
}

// A stream whose every event arrived with its headers is not split in two: it reaches the
// client whole, framed by its length, and is metered as any stream.
TEST_F(ProxyTest, AStreamThatArrivesWholeWithItsHeadersIsRelayedWhole) {
  const std::string events = MessageStart() + MessageEnd(7);
  // One send, smaller than the meter's first read of a new connection: the meter has the
  // whole answer when it reads the headers.
  RawUpstream upstream([&](int fd, RawUpstream&) {
    RawUpstream::Send(fd, std::string(kStreamHeaders) + RawUpstream::Chunk(events) + "0\r\n\r\n");
  });
  StartMeter(upstream.url());
  const int client = testing::ConnectLoopback(port_);
  ASSERT_GE(client, 0);
  const std::string body = kStreamRequest;
  ASSERT_TRUE(RawUpstream::Send(
      client, "POST /anthropic/v1/messages HTTP/1.1\r\nHost: meter\r\nConnection: close\r\n"
              "content-type: application/json\r\ncontent-length: " +
                  std::to_string(body.size()) + "\r\n\r\n" + body));
  std::string answer;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::recv(client, buffer, sizeof(buffer), 0)) > 0) {
    answer.append(buffer, static_cast<size_t>(n));
  }
  ::close(client);
  const size_t end_of_headers = answer.find("\r\n\r\n");
  ASSERT_NE(end_of_headers, std::string::npos) << answer;
  std::string headers = answer.substr(0, end_of_headers);
  for (char& c : headers) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  EXPECT_EQ(headers.rfind("http/1.1 200", 0), 0u) << headers;
  EXPECT_NE(headers.find("content-type: text/event-stream"), std::string::npos) << headers;
  EXPECT_NE(headers.find("content-length: " + std::to_string(events.size())), std::string::npos)
      << headers;
  EXPECT_EQ(headers.find("transfer-encoding"), std::string::npos) << headers;
  EXPECT_EQ(answer.substr(end_of_headers + 4), events);
  // 5 × $1 + 7 × $5 per million tokens.
  ASSERT_TRUE(Eventually([&] { return enforcer_->totals().tokens == 12; }));
  EXPECT_EQ(enforcer_->totals().spent, core::Money::FromMicros(40));
}

// A client that stops reading a stream holds the provider back through the meter: the
// meter reads the provider's next bytes only once the client took the last, so the bytes
// in flight are bounded by the sockets' buffers, not by the length of the answer.
TEST_F(ProxyTest, ASlowReaderHoldsTheProviderBackInsteadOfBeingBuffered) {
  constexpr size_t kAnswerBytes = 512u << 20;
  std::atomic<size_t> sent{0};
  std::atomic<bool> held_back{false};
  RawUpstream upstream([&](int fd, RawUpstream&) {
    const timeval timeout{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    RawUpstream::Send(fd, std::string(kStreamHeaders) + RawUpstream::Chunk(MessageStart()));
    const std::string delta = RawUpstream::Chunk(Event(
        "content_block_delta",
        R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":")" +
            std::string(64 * 1024, 'x') + "\"}}"));
    while (sent.load() < kAnswerBytes) {
      if (!RawUpstream::Send(fd, delta)) {
        held_back = true;  // the send timed out: nobody downstream reads
        break;
      }
      sent += delta.size();
    }
    RawUpstream::ResetOnClose(fd);
  });
  StartMeter(upstream.url());
  const int client = testing::ConnectLoopback(port_);
  ASSERT_GE(client, 0);
  const std::string body = kStreamRequest;
  ASSERT_TRUE(RawUpstream::Send(
      client, "POST /anthropic/v1/messages HTTP/1.1\r\nHost: meter\r\ncontent-type: "
              "application/json\r\ncontent-length: " +
                  std::to_string(body.size()) + "\r\n\r\n" + body));
  // The client reads nothing. The provider's sends stall once the buffers are full.
  ASSERT_TRUE(Eventually([&] { return held_back.load(); })) << sent.load() << " bytes sent";
  EXPECT_LT(sent.load(), 96u << 20) << "the meter buffered what its client did not read";
  ::close(client);
  // The call ends (cut, charged as estimated) once the client is gone.
  ASSERT_TRUE(Eventually([&] { return enforcer_->totals().reserved == core::Money(); }));
  EXPECT_GT(enforcer_->totals().tokens, 5);
}

// Slow providers hold no thread of the meter: many streams whose events arrive slowly are
// relayed at once, each in full and metered exactly.
TEST_F(ProxyTest, ManySlowStreamsAreRelayedTogetherAndMeteredExactly) {
  constexpr int kStreams = 24;
  RawUpstream upstream([](int fd, RawUpstream&) {
    RawUpstream::Send(fd, std::string(kStreamHeaders) + RawUpstream::Chunk(MessageStart()));
    for (int i = 0; i < 5; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(40));  // a slow provider
      RawUpstream::Send(fd, RawUpstream::Chunk(Event(
                                "content_block_delta",
                                R"({"type":"content_block_delta","index":0,"delta":)"
                                R"({"type":"text_delta","text":"word "}})")));
    }
    RawUpstream::Send(fd, RawUpstream::Chunk(MessageEnd(7)) + "0\r\n\r\n");
  });
  StartMeter(upstream.url());
  std::vector<std::future<std::string>> streams;
  for (int i = 0; i < kStreams; ++i) {
    streams.push_back(std::async(std::launch::async, [this] {
      http::http_response response = Post("/anthropic/v1/messages", kStreamRequest);
      return response.extract_utf8string(true).get();
    }));
  }
  for (auto& stream : streams) {
    const std::string received = stream.get();
    EXPECT_EQ(CountOfWord(received), 5u) << received;
    EXPECT_NE(received.find("message_stop"), std::string::npos);
  }
  // Each: 5 input and 7 output tokens, as reported.
  ASSERT_TRUE(Eventually([&] { return enforcer_->totals().tokens == kStreams * 12; }));
  EXPECT_EQ(enforcer_->totals().requests, kStreams);
}

TEST_F(ProxyTest, ManyIdleClientsAndConnectionChurnLeaveCallsServed) {
  RawUpstream upstream([](int fd, RawUpstream&) { RawUpstream::Send(fd, MessageAnswer()); });
  StartMeter(upstream.url());
  std::vector<int> idle;
  for (int i = 0; i < 300; ++i) {
    idle.push_back(testing::ConnectLoopback(port_));
    ASSERT_GE(idle.back(), 0);
  }
  const std::string body = kRequest;
  const std::string request = "POST /anthropic/v1/messages HTTP/1.1\r\nHost: meter\r\n"
                              "Connection: close\r\ncontent-type: application/json\r\n"
                              "content-length: " + std::to_string(body.size()) + "\r\n\r\n" +
                              body;
  // Each call on a connection of its own, closed after the answer.
  for (int i = 0; i < 200; ++i) {
    const int fd = testing::ConnectLoopback(port_);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(RawUpstream::Send(fd, request));
    std::string answer;
    char buffer[4096];
    ssize_t n = 0;
    while ((n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0) {
      answer.append(buffer, static_cast<size_t>(n));
    }
    ::close(fd);
    ASSERT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << "call " << i << ": " << answer;
  }
  for (const int fd : idle) {
    ::close(fd);
  }
  ASSERT_TRUE(Eventually([&] { return enforcer_->totals().tokens == 600; }));
}

}  // namespace
}  // namespace agentbudget::meter
