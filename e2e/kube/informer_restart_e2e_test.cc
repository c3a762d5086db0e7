// An informer keeps an exact picture across a kube-apiserver restart: while objects are
// created, updated and deleted around the restart, its handlers see every change once —
// no object missed, no event repeated — and its cache ends equal to the server's state.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "common/mutex.h"
#include "e2e/kube/kube_client.h"
#include "e2e/support/cluster_environment.h"
#include "kube/informer.h"

namespace agentbudget::kube {
namespace {

using agentbudget::e2e::ClusterEnvironment;
using nlohmann::json;

const auto* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new ClusterEnvironment("kube-restart-e2e"));

constexpr char kNamespace[] = "restart";

// Every handler call, per object name: "add@rv", "update@rv", "delete@rv".
class History {
 public:
  ResourceEventHandlers Handlers() {
    ResourceEventHandlers h;
    h.on_add = [this](const json& o) { Record(o, "add"); };
    h.on_update = [this](const json&, const json& o) { Record(o, "update"); };
    h.on_delete = [this](const json& o) { Record(o, "delete"); };
    return h;
  }
  std::map<std::string, std::vector<std::string>> calls() const {
    MutexLock lock(mu_);
    return calls_;
  }

 private:
  void Record(const json& o, const std::string& what) {
    MutexLock lock(mu_);
    calls_[o["metadata"]["name"].get<std::string>()].push_back(what + "@" + ResourceVersionOf(o));
  }
  mutable Mutex mu_;
  std::map<std::string, std::vector<std::string>> calls_ GUARDED_BY(mu_);
};

// Retries `op` until it succeeds or reports `already_done` (an earlier attempt whose answer
// was lost took effect), across the apiserver's downtime. Returns false at the deadline.
bool UntilDone(const std::function<Status()>& op,
               std::optional<ErrorCode> already_done = std::nullopt) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (std::chrono::steady_clock::now() < deadline) {
    Status status = op();
    if (status.ok() || status.error().code == already_done) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // retry pacing
  }
  return false;
}

json ConfigMap(const std::string& name) {
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}},
          {"data", {{"v", "0"}}}};
}

TEST(InformerRestartTest, NoEventIsLostOrRepeatedAcrossAnApiServerRestart) {
  auto* cluster = ClusterEnvironment::Cluster();
  ClientOptions options;
  options.request_timeout = std::chrono::seconds(5);
  options.max_retries = 0;
  auto client = e2e::ClientFor(cluster, options);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(e2e::EnsureNamespace(*client, kNamespace).ok());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(client->Create(resources::kConfigMaps, kNamespace, ConfigMap("c" + std::to_string(i))).ok());
  }

  InformerOptions informer_options;
  informer_options.reflector.ns = kNamespace;
  informer_options.reflector.initial_backoff = std::chrono::milliseconds(200);
  informer_options.reflector.max_backoff = std::chrono::seconds(2);
  Informer informer(*client, resources::kConfigMaps, informer_options);
  History history;
  informer.AddEventHandlers(history.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(30)));

  // A writer keeps changing things while the API server restarts.
  std::atomic<bool> writer_ok{true};
  std::thread writer([&] {
    for (int i = 0; i < 40 && writer_ok; ++i) {
      std::string name = "r" + std::to_string(i);
      writer_ok = UntilDone([&]() -> Status {
        auto made = client->Create(resources::kConfigMaps, kNamespace, ConfigMap(name));
        return made.ok() ? OkStatus() : Status(made.error());
      }, ErrorCode::kAlreadyExists);
    }
  });
  Status restarted = cluster->Restart("kube-apiserver");
  writer.join();
  ASSERT_TRUE(restarted.ok()) << restarted.error().ToString();
  ASSERT_TRUE(writer_ok.load());
  for (int i = 0; i < 10; ++i) {
    std::string name = "c" + std::to_string(i);
    ASSERT_TRUE(UntilDone([&]() -> Status {
      auto patched = client->Patch(resources::kConfigMaps, kNamespace, name, PatchType::kMerge,
                                   {{"data", {{"v", "1"}}}});
      return patched.ok() ? OkStatus() : Status(patched.error());
    }));
  }
  for (int i = 10; i < 20; ++i) {
    ASSERT_TRUE(UntilDone([&]() {
      return client->Delete(resources::kConfigMaps, kNamespace, "c" + std::to_string(i));
    }, ErrorCode::kNotFound));
  }

  // The cache converges on the server's state.
  auto server_state = [&]() -> std::map<std::string, std::string> {
    auto list = client->ListAll(resources::kConfigMaps, kNamespace);
    std::map<std::string, std::string> state;
    if (list.ok()) {
      for (const json& o : list->items) {
        state[o["metadata"]["name"]] = ResourceVersionOf(o);
      }
    }
    return state;
  };
  auto cache_state = [&]() {
    std::map<std::string, std::string> state;
    for (const json& o : informer.store().List()) {
      state[o["metadata"]["name"]] = ResourceVersionOf(o);
    }
    return state;
  };
  std::map<std::string, std::string> expected = server_state();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (cache_state() != expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(cache_state(), expected);
  informer.Stop();

  auto calls = history.calls();
  for (const auto& [name, sequence] : calls) {
    // Exactly one add, first; no (event, version) twice; a delete only at the end.
    ASSERT_FALSE(sequence.empty());
    EXPECT_EQ(sequence.front().rfind("add@", 0), 0u) << name;
    std::set<std::string> distinct(sequence.begin(), sequence.end());
    EXPECT_EQ(distinct.size(), sequence.size()) << name;
    for (std::size_t i = 1; i < sequence.size(); ++i) {
      EXPECT_NE(sequence[i].rfind("add@", 0), 0u) << name << " added twice";
      if (i + 1 < sequence.size()) {
        EXPECT_NE(sequence[i].rfind("delete@", 0), 0u) << name << " changed after delete";
      }
    }
  }
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(calls["r" + std::to_string(i)].size(), 1u) << "r" << i;
  }
  for (int i = 0; i < 10; ++i) {
    auto& sequence = calls["c" + std::to_string(i)];
    ASSERT_EQ(sequence.size(), 2u) << "c" << i;
    EXPECT_EQ(sequence[1], "update@" + expected["c" + std::to_string(i)]);
  }
  for (int i = 10; i < 20; ++i) {
    auto& sequence = calls["c" + std::to_string(i)];
    ASSERT_EQ(sequence.size(), 2u) << "c" << i;
    EXPECT_EQ(sequence[1].rfind("delete@", 0), 0u);
  }
}

}  // namespace
}  // namespace agentbudget::kube
