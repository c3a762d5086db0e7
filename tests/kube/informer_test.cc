#include "kube/informer.h"

#include <gtest/gtest.h>

#include <atomic>

#include "common/mutex.h"
#include "tests/kube/fake_api_server.h"

namespace agentbudget::kube {
namespace {

using nlohmann::json;
using testing::Connection;
using testing::FakeApiServer;
using testing::ReceivedRequest;

json Pod(const std::string& name, const std::string& rv) {
  return {{"metadata",
           {{"namespace", "ns"},
            {"name", name},
            {"resourceVersion", rv},
            {"managedFields", json::array({{{"manager", "kubectl"}}})}}}};
}

std::string Line(const std::string& type, const json& object) {
  return json{{"type", type}, {"object", object}}.dump() + "\n";
}

std::string List(const std::string& rv, const std::vector<json>& items) {
  return json{{"kind", "PodList"}, {"apiVersion", "v1"},
              {"metadata", {{"resourceVersion", rv}}}, {"items", items}}
      .dump();
}

// Records handler calls as "add a@1", "update a@1->2", "delete b@1".
class Recorder {
 public:
  ResourceEventHandlers Handlers() {
    ResourceEventHandlers h;
    h.on_add = [this](const json& o) { Record("add " + Name(o)); };
    h.on_update = [this](const json& old, const json& now) {
      Record("update " + Name(old) + "->" + ResourceVersionOf(now));
    };
    h.on_delete = [this](const json& o) { Record("delete " + Name(o)); };
    return h;
  }
  std::vector<std::string> calls() const {
    MutexLock lock(mu_);
    return calls_;
  }

 private:
  static std::string Name(const json& o) {
    return o["metadata"]["name"].get<std::string>() + "@" + ResourceVersionOf(o);
  }
  void Record(std::string call) {
    MutexLock lock(mu_);
    calls_.push_back(std::move(call));
  }
  mutable Mutex mu_;
  std::vector<std::string> calls_ GUARDED_BY(mu_);
};

class InformerTest : public ::testing::Test {
 protected:
  std::unique_ptr<Client> NewClient(const FakeApiServer& server) {
    TransportConfig config;
    config.server = server.url();
    auto transport = NewCpprestTransport(config);
    EXPECT_TRUE(transport.ok());
    return std::make_unique<Client>(std::shared_ptr<Transport>(std::move(transport).value()), "",
                                    "", ClientOptions{});
  }
  static InformerOptions FastOptions() {
    InformerOptions options;
    options.reflector.initial_backoff = std::chrono::milliseconds(10);
    options.reflector.max_backoff = std::chrono::milliseconds(50);
    return options;
  }
};

TEST_F(InformerTest, SurvivesDropsAndGoneWithEveryChangeDeliveredExactlyOnce) {
  std::atomic<int> lists{0};
  std::atomic<int> watches{0};
  FakeApiServer server([&](const ReceivedRequest& r, Connection& c) {
    if (r.Query("watch").empty()) {
      if (lists++ == 0) {
        c.RespondJson(200, List("10", {Pod("a", "9"), Pod("b", "10")}));
      } else {
        // Relist after Gone: b was deleted meanwhile, d added; a and c unchanged since seen.
        c.RespondJson(200, List("13", {Pod("a", "12"), Pod("c", "11"), Pod("d", "13")}));
      }
      return;
    }
    switch (watches++) {
      case 0:
        c.StartChunked(200);
        c.WriteChunk(Line("ADDED", Pod("c", "11")).substr(0, 20));
        c.WriteChunk(Line("ADDED", Pod("c", "11")).substr(20));
        c.Drop();  // connection lost: resume from 11
        return;
      case 1:
        c.StartChunked(200);
        c.WriteChunk(Line("ADDED", Pod("c", "11")));  // a server replay must not duplicate
        c.WriteChunk(Line("MODIFIED", Pod("a", "12")));
        c.WriteChunk(Line("ERROR", json::parse(testing::StatusJson(410, "Expired", "old"))));
        c.EndChunked();
        return;
      default:
        c.StartChunked(200);
        testing::WaitUntil([&] { return server.stopping(); }, std::chrono::seconds(30));
        return;
    }
  });
  auto client = NewClient(server);
  Informer informer(*client, resources::kPods, FastOptions());
  Recorder recorder;
  informer.AddEventHandlers(recorder.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(10)));
  ASSERT_TRUE(testing::WaitUntil([&] { return recorder.calls().size() >= 6; }));
  informer.Stop();
  EXPECT_EQ(recorder.calls(), (std::vector<std::string>{"add a@9", "add b@10", "add c@11",
                                                        "update a@9->12", "add d@13",
                                                        "delete b@10"}));
  std::vector<std::string> watch_versions;
  for (const ReceivedRequest& r : server.requests()) {
    if (!r.Query("watch").empty()) {
      watch_versions.push_back(r.Query("resourceVersion"));
    }
  }
  EXPECT_EQ(watch_versions, (std::vector<std::string>{"10", "11", "13"}));
  EXPECT_EQ(informer.store().size(), 3u);
}

TEST_F(InformerTest, CachedObjectsHaveManagedFieldsStripped) {
  FakeApiServer server([&](const ReceivedRequest& r, Connection& c) {
    if (r.Query("watch").empty()) {
      c.RespondJson(200, List("5", {Pod("a", "5")}));
      return;
    }
    c.StartChunked(200);
    testing::WaitUntil([&] { return server.stopping(); }, std::chrono::seconds(30));
  });
  auto client = NewClient(server);
  Informer informer(*client, resources::kPods, FastOptions());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(10)));
  std::optional<json> cached = informer.store().Get("ns/a");
  ASSERT_TRUE(cached.has_value());
  EXPECT_FALSE((*cached)["metadata"].contains("managedFields"));
  EXPECT_EQ((*cached)["kind"], "Pod");
  EXPECT_EQ(informer.store().ByIndex(kNamespaceIndex, "ns").size(), 1u);
}

TEST_F(InformerTest, ResyncRedeliversCachedObjectsAsUpdates) {
  FakeApiServer server([&](const ReceivedRequest& r, Connection& c) {
    if (r.Query("watch").empty()) {
      c.RespondJson(200, List("5", {Pod("a", "5")}));
      return;
    }
    c.StartChunked(200);
    testing::WaitUntil([&] { return server.stopping(); }, std::chrono::seconds(30));
  });
  auto client = NewClient(server);
  InformerOptions options = FastOptions();
  options.resync_period = std::chrono::milliseconds(20);
  Informer informer(*client, resources::kPods, options);
  Recorder recorder;
  informer.AddEventHandlers(recorder.Handlers());
  informer.Start();
  EXPECT_TRUE(testing::WaitUntil([&] {
    auto calls = recorder.calls();
    return calls.size() >= 3 && calls[2] == "update a@5->5";
  }));
}

TEST_F(InformerTest, ListFailuresAreRetriedAndSyncWaitsForThem) {
  std::atomic<int> lists{0};
  FakeApiServer server([&](const ReceivedRequest& r, Connection& c) {
    if (r.Query("watch").empty()) {
      if (lists++ < 2) {
        c.RespondJson(403, testing::StatusJson(403, "Forbidden", "not yet"));
      } else {
        c.RespondJson(200, List("5", {Pod("a", "5")}));
      }
      return;
    }
    c.StartChunked(200);
    testing::WaitUntil([&] { return server.stopping(); }, std::chrono::seconds(30));
  });
  auto client = NewClient(server);
  Informer informer(*client, resources::kPods, FastOptions());
  informer.Start();
  EXPECT_FALSE(informer.HasSynced());
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(10)));
  EXPECT_EQ(lists.load(), 3);
}

}  // namespace
}  // namespace agentbudget::kube
