#include "kube/watch.h"

#include <gtest/gtest.h>

#include <atomic>

#include "kube/client.h"
#include "tests/kube/fake_api_server.h"

namespace agentbudget::kube {
namespace {

using nlohmann::json;
using testing::Connection;
using testing::FakeApiServer;
using testing::ReceivedRequest;

std::string EventLine(const std::string& type, const std::string& name, const std::string& rv) {
  return json{{"type", type},
              {"object",
               {{"kind", "Pod"},
                {"metadata", {{"name", name}, {"namespace", "ns"}, {"resourceVersion", rv}}}}}}
             .dump() +
         "\n";
}

TEST(WatchDecoderTest, EventSplitAcrossReadsIsDeliveredOnceItsLineCompletes) {
  WatchDecoder decoder;
  std::string line = EventLine("ADDED", "a", "1");
  Result<std::vector<WatchEvent>> first = decoder.Feed(line.substr(0, 10));
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->empty());
  EXPECT_TRUE(decoder.HasPartialLine());
  Result<std::vector<WatchEvent>> second = decoder.Feed(line.substr(10));
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].type, EventType::kAdded);
  EXPECT_EQ((*second)[0].object["metadata"]["name"], "a");
  EXPECT_FALSE(decoder.HasPartialLine());
}

TEST(WatchDecoderTest, ManyEventsInOneReadComeOutInOrder) {
  WatchDecoder decoder;
  Result<std::vector<WatchEvent>> events = decoder.Feed(
      EventLine("ADDED", "a", "1") + EventLine("MODIFIED", "a", "2") +
      EventLine("DELETED", "a", "3") + R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"4"}}})" "\n");
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 4u);
  EXPECT_EQ((*events)[1].type, EventType::kModified);
  EXPECT_EQ((*events)[2].type, EventType::kDeleted);
  EXPECT_EQ((*events)[3].type, EventType::kBookmark);
}

TEST(WatchDecoderTest, EveryByteInItsOwnReadStillDecodes) {
  WatchDecoder decoder;
  std::string stream = EventLine("ADDED", "a", "1") + EventLine("ADDED", "b", "2");
  std::vector<WatchEvent> all;
  for (char c : stream) {
    Result<std::vector<WatchEvent>> events = decoder.Feed(std::string_view(&c, 1));
    ASSERT_TRUE(events.ok());
    for (auto& e : *events) {
      all.push_back(std::move(e));
    }
  }
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].object["metadata"]["name"], "b");
}

TEST(WatchDecoderTest, GarbageLineIsAnError) {
  WatchDecoder decoder;
  EXPECT_FALSE(decoder.Feed("<html>proxy error</html>\n").ok());
  WatchDecoder unknown;
  EXPECT_FALSE(unknown.Feed(R"({"type":"EXPLODED","object":{}})" "\n").ok());
}

class WatchStreamTest : public ::testing::Test {
 protected:
  std::unique_ptr<Client> NewClient(const FakeApiServer& server) {
    TransportConfig config;
    config.server = server.url();
    auto transport = NewCpprestTransport(config);
    EXPECT_TRUE(transport.ok());
    ClientOptions options;
    options.max_retries = 0;
    return std::make_unique<Client>(std::shared_ptr<Transport>(std::move(transport).value()), "",
                                    "", options);
  }
};

TEST_F(WatchStreamTest, EventsArriveWhileTheStreamIsStillOpen) {
  std::atomic<bool> consumed{false};
  FakeApiServer server([&](const ReceivedRequest&, Connection& c) {
    c.StartChunked(200);
    std::string line = EventLine("ADDED", "a", "5");
    // Cut the event across two chunks, then hold the stream open until the client has it.
    c.WriteChunk(line.substr(0, 7));
    c.WriteChunk(line.substr(7));
    testing::WaitUntil([&] { return consumed.load() || server.stopping(); });
    c.WriteChunk(EventLine("MODIFIED", "a", "6"));
    c.EndChunked();
  });
  auto client = NewClient(server);
  WatchOptions options;
  options.resource_version = "4";
  auto watch = client->Watch(resources::kPods, "ns", options);
  ASSERT_TRUE(watch.ok()) << watch.error().ToString();
  auto first = (*watch)->Next();
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->object["metadata"]["resourceVersion"], "5");
  consumed = true;
  auto second = (*watch)->Next();
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->type, EventType::kModified);
  auto end = (*watch)->Next();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
  ReceivedRequest request = server.requests().at(0);
  EXPECT_EQ(request.Query("watch"), "1");
  EXPECT_EQ(request.Query("resourceVersion"), "4");
  EXPECT_EQ(request.Query("allowWatchBookmarks"), "true");
  EXPECT_EQ(request.Query("timeoutSeconds"), "300");
}

TEST_F(WatchStreamTest, GoneInTheMiddleOfTheStreamArrivesAsAnErrorEvent) {
  FakeApiServer server([](const ReceivedRequest&, Connection& c) {
    c.StartChunked(200);
    c.WriteChunk(EventLine("ADDED", "a", "5"));
    c.WriteChunk(json{{"type", "ERROR"},
                      {"object", json::parse(testing::StatusJson(410, "Expired", "too old"))}}
                     .dump() +
                 "\n");
    c.EndChunked();
  });
  auto client = NewClient(server);
  auto watch = client->Watch(resources::kPods, "ns", {});
  ASSERT_TRUE(watch.ok());
  ASSERT_TRUE((*watch)->Next().ok());
  auto error = (*watch)->Next();
  ASSERT_TRUE(error.ok() && error->has_value());
  EXPECT_EQ((*error)->type, EventType::kError);
  EXPECT_EQ((*error)->object["code"], 410);
}

TEST_F(WatchStreamTest, GoneAtTheStartIsAGoneError) {
  FakeApiServer server([](const ReceivedRequest&, Connection& c) {
    c.RespondJson(410, testing::StatusJson(410, "Expired", "too old resource version"));
  });
  auto watch = NewClient(server)->Watch(resources::kPods, "ns", {});
  ASSERT_FALSE(watch.ok());
  EXPECT_EQ(watch.error().code, ErrorCode::kGone);
}

TEST_F(WatchStreamTest, ConnectionDroppedInTheMiddleOfAnEventIsAnError) {
  FakeApiServer server([](const ReceivedRequest&, Connection& c) {
    c.StartChunked(200);
    c.WriteChunk(EventLine("ADDED", "a", "5"));
    c.WriteChunk(EventLine("ADDED", "b", "6").substr(0, 12));
    c.Drop();
  });
  auto client = NewClient(server);
  auto watch = client->Watch(resources::kPods, "ns", {});
  ASSERT_TRUE(watch.ok());
  auto first = (*watch)->Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  auto broken = (*watch)->Next();
  EXPECT_FALSE(broken.ok());
}

TEST_F(WatchStreamTest, SilentStreamTimesOutOnceTheServersTimeoutHasPassed) {
  FakeApiServer server([&](const ReceivedRequest&, Connection& c) {
    c.StartChunked(200);
    testing::WaitUntil([&] { return server.stopping(); }, std::chrono::seconds(20));
  });
  TransportConfig config;
  config.server = server.url();
  ClientOptions options;
  options.watch_timeout_margin = std::chrono::milliseconds(100);
  Client client(std::shared_ptr<Transport>(NewCpprestTransport(config).value()), "", "",
                options);
  WatchOptions watch_options;
  watch_options.timeout = std::chrono::seconds(1);
  auto watch = client.Watch(resources::kPods, "ns", watch_options);
  ASSERT_TRUE(watch.ok());
  auto start = std::chrono::steady_clock::now();
  auto event = (*watch)->Next();
  ASSERT_FALSE(event.ok());
  EXPECT_EQ(event.error().code, ErrorCode::kDeadlineExceeded) << event.error().ToString();
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1000));
}

TEST_F(WatchStreamTest, CancelEndsABlockedNext) {
  FakeApiServer server([&](const ReceivedRequest&, Connection& c) {
    c.StartChunked(200);
    testing::WaitUntil([&] { return server.stopping(); }, std::chrono::seconds(20));
  });
  auto client = NewClient(server);
  auto watch = client->Watch(resources::kPods, "ns", {});
  ASSERT_TRUE(watch.ok());
  std::atomic<bool> returned{false};
  std::thread reader([&] {
    auto event = (*watch)->Next();
    EXPECT_FALSE(event.ok());
    returned = true;
  });
  (*watch)->Cancel();
  EXPECT_TRUE(testing::WaitUntil([&] { return returned.load(); }, std::chrono::seconds(5)));
  reader.join();
}

}  // namespace
}  // namespace agentbudget::kube
