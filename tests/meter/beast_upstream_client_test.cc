// GoogleTest before cpprestsdk: cpprestsdk defines a macro U that breaks gtest's templates.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <algorithm>
#include <future>
#include <string>

#include "meter/base_url.h"
#include "meter/beast_upstream_client.h"
#include "tests/meter/proxy_fixture.h"
#include "tests/meter/raw_upstream.h"
#include "tests/meter/scripted_server.h"

namespace agentbudget::meter {
namespace {

namespace http = web::http;
using testing::Eventually;
using testing::RawUpstream;
using testing::ScriptedServer;

TEST(BaseUrlTest, SplitsSchemeHostPortAndPath) {
  auto url = ParseBaseUrl("https://api.example.com");
  ASSERT_TRUE(url.ok());
  EXPECT_TRUE(url->tls);
  EXPECT_EQ(url->host, "api.example.com");
  EXPECT_EQ(url->port, "443");
  EXPECT_EQ(url->path, "");
  EXPECT_EQ(url->HostHeader(), "api.example.com");
  url = ParseBaseUrl("http://[::1]:8080/prefix/");
  ASSERT_TRUE(url.ok());
  EXPECT_FALSE(url->tls);
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, "8080");
  EXPECT_EQ(url->path, "/prefix");
  EXPECT_EQ(url->HostHeader(), "[::1]:8080");
}

TEST(BaseUrlTest, RefusesWhatIsNotABaseUrlNamingTheRule) {
  const std::pair<const char*, const char*> cases[] = {
      {"ftp://host", "scheme"},           {"http://", "host is empty"},
      {"http://host:0", "port"},          {"http://host:99999", "port"},
      {"http://host:8x", "port"},         {"http://host/p?q=1", "no query"},
      {"http://[::1", "closing ']'"},
  };
  for (const auto& [text, rule] : cases) {
    auto url = ParseBaseUrl(text);
    ASSERT_FALSE(url.ok()) << text;
    EXPECT_NE(url.error().message.find(rule), std::string::npos) << url.error().message;
  }
}

// Sends a POST and reads the answer's body whole: the status and body, or the error.
struct Answered {
  int status = 0;
  std::string body;
  std::optional<UpstreamFailure> failure;
  size_t largest_piece = 0;  // of the body's pieces as Read handed them over
};

Answered Call(UpstreamClient& client, const std::string& body) {
  auto promise = std::make_shared<std::promise<Answered>>();
  auto future = promise->get_future();
  UpstreamRequest request;
  request.target = "/v1/messages";
  request.headers["Content-Type"] = "application/json";
  request.body = body;
  client.Send(std::move(request), [promise](UpstreamOutcome outcome) {
    if (!outcome.response) {
      promise->set_value(Answered{0, "", outcome.failure});
      return;
    }
    auto answered = std::make_shared<Answered>();
    answered->status = outcome.response->status;
    std::shared_ptr<UpstreamBody> body = std::move(outcome.response->body);
    auto read = std::make_shared<std::function<void()>>();
    *read = [promise, answered, body, weak = std::weak_ptr(read)] {
      body->Read([promise, answered, read = weak.lock()](Result<std::string_view> bytes) {
        if (!bytes.ok()) {
          answered->failure = UpstreamFailure{bytes.error(), true};
          promise->set_value(*answered);
        } else if (bytes->empty()) {
          promise->set_value(*answered);
        } else {
          answered->body.append(*bytes);
          answered->largest_piece = std::max(answered->largest_piece, bytes->size());
          (*read)();
        }
      });
    };
    (*read)();
  });
  return future.get();
}

std::unique_ptr<BeastUpstreamClient> Client(const std::string& url,
                                            std::chrono::milliseconds idle_timeout,
                                            size_t read_buffer = 16 * 1024) {
  BeastUpstreamOptions options;
  options.base_url = url;
  options.timeout = std::chrono::seconds(5);
  options.idle_timeout = idle_timeout;
  options.read_buffer = read_buffer;
  return BeastUpstreamClient::Create(options).value();
}

TEST(BeastUpstreamClientTest, AnAnswerLargerThanTheReadBufferArrivesWholeInPiecesOfItsSize) {
  const std::string large(10'000, 'x');
  ScriptedServer upstream([&large](http::http_request r, const std::string&) {
    r.reply(200, large, "text/plain").wait();
  });
  auto client = Client(upstream.url(), std::chrono::seconds(15), 1024);
  const Answered answered = Call(*client, "{}");
  ASSERT_FALSE(answered.failure) << answered.failure->error.message;
  EXPECT_EQ(answered.body, large);
  EXPECT_LE(answered.largest_piece, 1024u);
  EXPECT_EQ(client->idle_connections(), 1u);
}

TEST(BeastUpstreamClientTest, RefusesAReadBufferOfNoBytes) {
  BeastUpstreamOptions options;
  options.base_url = "http://127.0.0.1:1";
  options.read_buffer = 0;
  auto client = BeastUpstreamClient::Create(options);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().code, ErrorCode::kInvalidArgument);
}

TEST(BeastUpstreamClientTest, ReusesAKeepAliveConnectionAndClosesItOnceIdleTooLong) {
  ScriptedServer upstream([](http::http_request r, const std::string& body) {
    r.reply(200, "echo " + body, "text/plain").wait();
  });
  auto client = Client(upstream.url(), std::chrono::milliseconds(300));
  EXPECT_EQ(Call(*client, "one").body, "echo one");
  EXPECT_EQ(Call(*client, "two").body, "echo two");
  EXPECT_EQ(client->idle_connections(), 1u);
  EXPECT_TRUE(Eventually([&] { return client->idle_connections() == 0; }));
  EXPECT_EQ(Call(*client, "three").body, "echo three");
}

// The provider answers, then closes the connection: the next request finds the pooled
// connection stale, and is sent again on a new one.
TEST(BeastUpstreamClientTest, ARequestOnAConnectionTheProviderClosedIsSentAgain) {
  RawUpstream upstream([](int fd, RawUpstream&) {
    RawUpstream::Send(fd, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
  });
  auto client = Client(upstream.url(), std::chrono::seconds(15));
  for (int i = 0; i < 20; ++i) {
    const Answered answered = Call(*client, "{}");
    ASSERT_FALSE(answered.failure) << "call " << i << ": " << answered.failure->error.message;
    EXPECT_EQ(answered.body, "ok");
  }
}

TEST(BeastUpstreamClientTest, AFailedConnectIsReportedAsNeverSent) {
  auto client = Client("http://127.0.0.1:" + std::to_string(testing::FreePort()),
                       std::chrono::seconds(15));
  const Answered answered = Call(*client, "{}");
  ASSERT_TRUE(answered.failure);
  EXPECT_FALSE(answered.failure->sent);
  EXPECT_EQ(answered.failure->error.code, ErrorCode::kUnavailable);
}

TEST(BeastUpstreamClientTest, AnAnswerCutMidBodyIsAnError) {
  RawUpstream upstream([](int fd, RawUpstream&) {
    RawUpstream::Send(fd, "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial");
  });
  auto client = Client(upstream.url(), std::chrono::seconds(15));
  const Answered answered = Call(*client, "{}");
  ASSERT_TRUE(answered.failure);
  EXPECT_EQ(answered.body, "partial");
  EXPECT_TRUE(answered.failure->sent);
  EXPECT_EQ(client->idle_connections(), 0u);
}

// What a request sent from a loop saw: the loops its callbacks ran on, the body, and
// whether the connection was back in the pool once the body said it ended.
struct SeenOnLoop {
  std::vector<size_t> loops;
  std::string body;
  std::string error;
  bool ended = false;
  size_t idle_once_ended = 0;
};

TEST(BeastUpstreamClientTest, ARequestSentFromALoopRunsThereAndItsLastBytesEndTheBody) {
  RawUpstream upstream([](int fd, RawUpstream&) {
    RawUpstream::Send(fd, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                          "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n");
  });
  EventLoops loops(2);
  BeastUpstreamOptions options;
  options.base_url = upstream.url();
  options.timeout = std::chrono::seconds(5);
  options.loops = &loops;
  auto client = BeastUpstreamClient::Create(options).value();
  std::promise<SeenOnLoop> promise;
  auto seen = std::make_shared<SeenOnLoop>();
  boost::asio::post(loops.loop(1), [&] {
    UpstreamRequest request;
    request.target = "/v1/messages";
    request.body = "{}";
    client->Send(std::move(request), [&](UpstreamOutcome outcome) {
      seen->loops.push_back(loops.Current());
      if (!outcome.response) {
        seen->error = outcome.failure.error.message;
        promise.set_value(*seen);
        return;
      }
      std::shared_ptr<UpstreamBody> body = std::move(outcome.response->body);
      auto read = std::make_shared<std::function<void()>>();
      *read = [&, body, weak = std::weak_ptr(read)] {
        body->Read([&, body, read = weak.lock()](Result<std::string_view> bytes) {
          seen->loops.push_back(loops.Current());
          if (!bytes.ok() || bytes->empty()) {
            seen->error = bytes.ok() ? "the body ended without ended()" : bytes.error().message;
            promise.set_value(*seen);
            return;
          }
          seen->body.append(*bytes);
          if (body->ended()) {
            seen->ended = true;
            seen->idle_once_ended = client->idle_connections();
            promise.set_value(*seen);
            return;
          }
          (*read)();
        });
      };
      (*read)();
    });
  });
  const SeenOnLoop result = promise.get_future().get();
  loops.Stop();
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.body, "abcdef");
  EXPECT_TRUE(result.ended);
  EXPECT_EQ(result.idle_once_ended, 1u);
  for (size_t loop : result.loops) {
    EXPECT_EQ(loop, 1u) << "a callback ran on another loop than the sender's";
  }
}

}  // namespace
}  // namespace agentbudget::meter
