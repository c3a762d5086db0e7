#include "kube/manager.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>

#include "common/mutex.h"
#include "tests/kube/fake_api_server.h"

namespace agentbudget::kube {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using testing::Connection;
using testing::FakeApiServer;
using testing::ReceivedRequest;

json Pod(const std::string& name, const std::string& run) {
  return {{"metadata",
           {{"namespace", "ns"},
            {"name", name},
            {"resourceVersion", "5"},
            {"labels", {{"run", run}}}}}};
}

// Serves a pod list (after `list_delay`) and watches that stay open, and a Lease
// coordination.k8s.io/v1 store, so that leader election works against it.
class FakeCluster {
 public:
  explicit FakeCluster(milliseconds list_delay = milliseconds{0})
      : server_([this, list_delay](const ReceivedRequest& r, Connection& c) {
          if (r.Path().find("/leases") != std::string::npos) {
            ServeLease(r, c);
            return;
          }
          if (!r.Query("watch").empty()) {
            c.StartChunked(200);
            testing::WaitUntil([&] { return server_.stopping(); }, std::chrono::seconds(30));
            return;
          }
          testing::WaitUntil([&] { return server_.stopping(); }, list_delay);
          c.RespondJson(200, json{{"kind", "PodList"},
                                  {"apiVersion", "v1"},
                                  {"metadata", {{"resourceVersion", "5"}}},
                                  {"items", {Pod("a", "r1"), Pod("b", "r1"), Pod("c", "r2")}}}
                                 .dump());
        }) {}

  std::unique_ptr<Client> NewClient() {
    TransportConfig config;
    config.server = server_.url();
    auto transport = NewCpprestTransport(config);
    EXPECT_TRUE(transport.ok());
    return std::make_unique<Client>(std::shared_ptr<Transport>(std::move(transport).value()), "",
                                    "", ClientOptions{});
  }
  int Lists(const std::string& selector) const {
    int lists = 0;
    for (const ReceivedRequest& r : server_.requests()) {
      lists += r.Path() == "/api/v1/pods" && r.Query("watch").empty() &&
               r.Query("labelSelector") == selector;
    }
    return lists;
  }

 private:
  void ServeLease(const ReceivedRequest& r, Connection& c) {
    MutexLock lock(mu_);
    if (r.method == "GET") {
      if (lease_.is_null()) {
        c.RespondJson(404, testing::StatusJson(404, "NotFound", "no lease"));
      } else {
        c.RespondJson(200, lease_.dump());
      }
      return;
    }
    lease_ = json::parse(r.body);
    lease_["metadata"]["resourceVersion"] = std::to_string(++version_);
    c.RespondJson(r.method == "POST" ? 201 : 200, lease_.dump());
  }

  Mutex mu_;
  json lease_ GUARDED_BY(mu_);
  int version_ GUARDED_BY(mu_) = 0;
  FakeApiServer server_;
};

InformerOptions Selected(const std::string& selector) {
  InformerOptions options;
  options.reflector.label_selector = selector;
  return options;
}

TEST(ManagerTest, SharesOneInformerPerResourceAndSelector) {
  FakeCluster cluster;
  auto client = cluster.NewClient();
  Manager manager(*client);
  Informer& first = manager.GetInformer(resources::kPods, Selected("run"));
  Informer& again = manager.GetInformer(resources::kPods, Selected("run"));
  Informer& other = manager.GetInformer(resources::kPods, Selected("workload"));
  EXPECT_EQ(&first, &again);
  EXPECT_NE(&first, &other);
  manager.Start();
  ASSERT_TRUE(manager.WaitStarted(std::chrono::seconds(10)));
  manager.Stop();
  EXPECT_EQ(cluster.Lists("run"), 1);
  EXPECT_EQ(cluster.Lists("workload"), 1);
  EXPECT_EQ(manager.InformerNames(),
            (std::vector<std::string>{"pods?labelSelector=run", "pods?labelSelector=workload"}));
}

TEST(ManagerTest, ControllersRunOnlyOnceTheCachesAreSyncedAndGetMappedKeys) {
  FakeCluster cluster(milliseconds{200});
  auto client = cluster.NewClient();
  Manager manager(*client);
  Informer& pods = manager.GetInformer(resources::kPods);
  Mutex mu;
  std::set<std::string> keys;
  std::atomic<bool> unsynced_reconcile{false};
  Controller& controller = manager.AddController(
      "runs", Scope::kEveryReplica, 2, [&](const std::string& key) -> Result<ReconcileResult> {
        if (!pods.HasSynced()) {
          unsynced_reconcile = true;
        }
        MutexLock lock(mu);
        keys.insert(key);
        return ReconcileResult{};
      });
  manager.Watch(controller, pods, [](const json& pod) {
    return std::vector<std::string>{pod["metadata"]["labels"].value("run", "")};
  });
  manager.Start();
  EXPECT_TRUE(testing::WaitUntil([&] {
    MutexLock lock(mu);
    return keys.size() == 2;
  }));
  manager.Stop();
  EXPECT_FALSE(unsynced_reconcile.load());
  EXPECT_EQ(keys, (std::set<std::string>{"r1", "r2"}));
}

TEST(ManagerTest, LeaderWorkStartsAfterLeadershipAndEverySetup) {
  FakeCluster cluster;
  auto client = cluster.NewClient();
  ManagerOptions options;
  LeaderElectionConfig election;
  election.lease_namespace = "ns";
  election.lease_name = "lease";
  election.identity = "me";
  options.leader_election = election;
  options.setup_retry = milliseconds{10};
  Manager manager(*client, options);
  std::atomic<int> setup_calls{0};
  std::atomic<bool> ran_before_setup{false};
  std::atomic<bool> ran{false};
  manager.AddLeaderSetup("recover", [&]() -> Status {
    return ++setup_calls < 3 ? Unavailable("not yet") : OkStatus();
  });
  manager.AddRunnable("serve", Scope::kLeader, [&](const StopSignal& stop) {
    ran_before_setup = setup_calls.load() < 3;
    ran = true;
    stop.WaitFor(std::chrono::hours{1});
  });
  EXPECT_FALSE(manager.IsLeader());
  manager.Start();
  EXPECT_TRUE(testing::WaitUntil([&] { return ran.load() && manager.IsLeader(); }));
  EXPECT_FALSE(ran_before_setup.load());
  EXPECT_EQ(setup_calls.load(), 3);
  manager.Stop();
}

TEST(ManagerTest, StopWakesPeriodicWorkWaitingForItsNextStep) {
  FakeCluster cluster;
  auto client = cluster.NewClient();
  Manager manager(*client);
  std::atomic<int> steps{0};
  manager.AddPeriodic("hourly", Scope::kLeader, [&] {
    ++steps;
    return std::chrono::duration_cast<milliseconds>(std::chrono::hours{1});
  });
  manager.Start();
  ASSERT_TRUE(testing::WaitUntil([&] { return steps.load() == 1; }));
  const auto before = std::chrono::steady_clock::now();
  manager.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(5));
  EXPECT_EQ(steps.load(), 1);
}

TEST(ManagerTest, PeriodicWorkRunsAgainAfterTheDelayItAskedFor) {
  FakeCluster cluster;
  auto client = cluster.NewClient();
  Manager manager(*client);
  std::atomic<int> steps{0};
  manager.AddPeriodic("fast", Scope::kEveryReplica, [&] {
    ++steps;
    return milliseconds{5};
  });
  manager.Start();
  EXPECT_TRUE(testing::WaitUntil([&] { return steps.load() >= 3; }));
  manager.Stop();
}

}  // namespace
}  // namespace agentbudget::kube
