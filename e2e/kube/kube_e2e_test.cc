// The client library against a real kube-apiserver: every REST operation, error mapping,
// watch, informer, events, leader election and the controller manager within one process.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "common/mutex.h"
#include "e2e/kube/kube_client.h"
#include "e2e/support/cluster_environment.h"
#include "kube/event_recorder.h"
#include "kube/informer.h"
#include "kube/leader_election.h"
#include "kube/manager.h"

namespace agentbudget::kube {
namespace {

using agentbudget::e2e::ClusterEnvironment;
using nlohmann::json;

const auto* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new ClusterEnvironment("kube-e2e"));

bool Eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return condition();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

json ConfigMap(const std::string& name, const json& data = json::object(),
               const json& labels = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"data", data}};
}

class KubeE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = e2e::ClientFor(ClusterEnvironment::Cluster());
    ASSERT_NE(client_, nullptr);
    ns_ = "t-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
    for (char& c : ns_) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    ns_ = ns_.substr(0, 60);
    Status made = e2e::EnsureNamespace(*client_, ns_);
    ASSERT_TRUE(made.ok()) << made.error().ToString();
  }

  std::unique_ptr<Client> client_;
  std::string ns_;
};

TEST_F(KubeE2eTest, CreateGetUpdateAndDeleteMapServerAnswersToTypedErrors) {
  auto created = client_->Create(resources::kConfigMaps, ns_, ConfigMap("a", {{"k", "1"}}));
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  EXPECT_EQ(client_->Create(resources::kConfigMaps, ns_, ConfigMap("a")).error().code,
            ErrorCode::kAlreadyExists);

  auto got = client_->Get(resources::kConfigMaps, ns_, "a");
  ASSERT_TRUE(got.ok());
  json changed = *got;
  changed["data"]["k"] = "2";
  ASSERT_TRUE(client_->Update(resources::kConfigMaps, ns_, changed).ok());
  // The same stale version again: someone else's write won.
  changed["data"]["k"] = "3";
  EXPECT_EQ(client_->Update(resources::kConfigMaps, ns_, changed).error().code,
            ErrorCode::kConflict);

  DeleteOptions wrong_uid;
  wrong_uid.precondition_uid = "00000000-0000-0000-0000-000000000000";
  EXPECT_EQ(client_->Delete(resources::kConfigMaps, ns_, "a", wrong_uid).error().code,
            ErrorCode::kConflict);
  DeleteOptions right;
  right.precondition_uid = (*got)["metadata"]["uid"];
  right.propagation_policy = "Foreground";
  ASSERT_TRUE(client_->Delete(resources::kConfigMaps, ns_, "a", right).ok());
  EXPECT_TRUE(Eventually([&] {
    auto gone = client_->Get(resources::kConfigMaps, ns_, "a");
    return !gone.ok() && gone.error().code == ErrorCode::kNotFound;
  }));
}

TEST_F(KubeE2eTest, InvalidObjectIsRejectedWithItsCauses) {
  auto created = client_->Create(resources::kConfigMaps, ns_, ConfigMap("Not_Valid"));
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(created.error().message.find("metadata.name"), std::string::npos)
      << created.error().message;
}

TEST_F(KubeE2eTest, PatchesMergeJsonAndServerSideApply) {
  ASSERT_TRUE(client_->Create(resources::kConfigMaps, ns_, ConfigMap("p", {{"a", "1"}})).ok());
  ASSERT_TRUE(client_->Patch(resources::kConfigMaps, ns_, "p", PatchType::kMerge,
                             {{"data", {{"b", "2"}}}})
                  .ok());
  ASSERT_TRUE(client_->Patch(resources::kConfigMaps, ns_, "p", PatchType::kJsonPatch,
                             json::array({{{"op", "remove"}, {"path", "/data/a"}}}))
                  .ok());
  PatchOptions apply;
  apply.field_manager = "agentbudget-test";
  auto applied = client_->Patch(resources::kConfigMaps, ns_, "p", PatchType::kApply,
                                {{"apiVersion", "v1"},
                                 {"kind", "ConfigMap"},
                                 {"metadata", {{"name", "p"}}},
                                 {"data", {{"b", "applied"}}}},
                                apply);
  // kubectl-less writers (the merge patch) own data.b: applying without force conflicts.
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().code, ErrorCode::kConflict);
  apply.force = true;
  applied = client_->Patch(resources::kConfigMaps, ns_, "p", PatchType::kApply,
                           {{"apiVersion", "v1"},
                            {"kind", "ConfigMap"},
                            {"metadata", {{"name", "p"}}},
                            {"data", {{"b", "applied"}}}},
                           apply);
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  EXPECT_EQ((*applied)["data"], json({{"b", "applied"}}));
}

TEST_F(KubeE2eTest, ListPaginatesAndFiltersBySelectors) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client_
                    ->Create(resources::kConfigMaps, ns_,
                             ConfigMap("l" + std::to_string(i), {}, {{"set", i % 2 ? "odd" : "even"}}))
                    .ok());
  }
  ListOptions page;
  page.label_selector = "set";
  page.limit = 2;
  auto first = client_->List(resources::kConfigMaps, ns_, page);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_EQ(first->items.size(), 2u);
  EXPECT_FALSE(first->continue_token.empty());

  ListOptions all;
  all.label_selector = "set";
  auto every = client_->ListAll(resources::kConfigMaps, ns_, all, 2);
  ASSERT_TRUE(every.ok());
  EXPECT_EQ(every->items.size(), 5u);
  EXPECT_EQ(every->items[0]["kind"], "ConfigMap");

  ListOptions odd;
  odd.label_selector = "set=odd";
  EXPECT_EQ(client_->ListAll(resources::kConfigMaps, ns_, odd)->items.size(), 2u);
  ListOptions by_name;
  by_name.field_selector = "metadata.name=l3";
  EXPECT_EQ(client_->ListAll(resources::kConfigMaps, ns_, by_name)->items.size(), 1u);
}

TEST_F(KubeE2eTest, CustomResourceStatusIsWrittenThroughTheSubresource) {
  GroupVersionResource crds = resources::kCustomResourceDefinitions;
  json crd = json::parse(R"({
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.e2e.agentbudget.io"},
    "spec": {"group": "e2e.agentbudget.io", "scope": "Namespaced",
      "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
      "versions": [{"name": "v1", "served": true, "storage": true,
        "subresources": {"status": {}},
        "schema": {"openAPIV3Schema": {"type": "object",
          "x-kubernetes-preserve-unknown-fields": true}}}]}})");
  auto made = client_->Create(crds, "", crd);
  ASSERT_TRUE(made.ok() || made.error().code == ErrorCode::kAlreadyExists);
  GroupVersionResource widgets{"e2e.agentbudget.io", "v1", "widgets", true};
  json widget = {{"apiVersion", "e2e.agentbudget.io/v1"},
                 {"kind", "Widget"},
                 {"metadata", {{"name", "w"}}},
                 {"spec", {{"size", 1}}}};
  // The new resource is served once the CRD is established.
  ASSERT_TRUE(Eventually([&] { return client_->Create(widgets, ns_, widget).ok(); }));
  auto current = client_->Get(widgets, ns_, "w");
  ASSERT_TRUE(current.ok());
  json with_status = *current;
  with_status["status"] = {{"phase", "Ready"}};
  with_status["spec"]["size"] = 99;  // ignored by the status subresource
  auto updated = client_->UpdateStatus(widgets, ns_, with_status);
  ASSERT_TRUE(updated.ok()) << updated.error().ToString();
  EXPECT_EQ((*updated)["status"]["phase"], "Ready");
  EXPECT_EQ((*updated)["spec"]["size"], 1);
  PatchOptions status_patch;
  status_patch.subresource = "status";
  auto patched = client_->Patch(widgets, ns_, "w", PatchType::kMerge,
                                {{"status", {{"phase", "Done"}}}}, status_patch);
  ASSERT_TRUE(patched.ok()) << patched.error().ToString();
  EXPECT_EQ((*patched)["status"]["phase"], "Done");
}

TEST_F(KubeE2eTest, WatchDeliversEachEventWhileTheStreamStaysOpen) {
  auto list = client_->List(resources::kConfigMaps, ns_);
  ASSERT_TRUE(list.ok());
  WatchOptions options;
  options.resource_version = list->resource_version;
  // Only this test's objects: the controller-manager adds kube-root-ca.crt concurrently.
  options.label_selector = "e2e=watch";
  options.timeout = std::chrono::seconds(120);
  auto watch = client_->Watch(resources::kConfigMaps, ns_, options);
  ASSERT_TRUE(watch.ok()) << watch.error().ToString();
  for (int i = 0; i < 3; ++i) {
    std::string name = "w" + std::to_string(i);
    auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(
        client_->Create(resources::kConfigMaps, ns_, ConfigMap(name, {}, {{"e2e", "watch"}})).ok());
    std::optional<WatchEvent> event;
    do {
      auto next = (*watch)->Next();
      ASSERT_TRUE(next.ok()) << next.error().ToString();
      ASSERT_TRUE(next->has_value());
      event = std::move(*next);
    } while (event->type == EventType::kBookmark);
    EXPECT_EQ(event->type, EventType::kAdded);
    EXPECT_EQ(event->object["metadata"]["name"], name);
    // Long before the 120 s the server would take to end the stream.
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  }
  (*watch)->Cancel();
}

TEST_F(KubeE2eTest, InformerSyncsAndReportsAddsUpdatesAndDeletes) {
  ASSERT_TRUE(client_->Create(resources::kConfigMaps, ns_, ConfigMap("before")).ok());
  InformerOptions options;
  options.reflector.ns = ns_;
  Informer informer(*client_, resources::kConfigMaps, options);
  informer.AddIndex("tier", LabelIndexFunc("tier"));
  Mutex mu;
  std::vector<std::string> seen;
  ResourceEventHandlers handlers;
  auto record = [&](const std::string& what) {
    MutexLock lock(mu);
    seen.push_back(what);
  };
  handlers.on_add = [&](const json& o) { record("add " + o["metadata"]["name"].get<std::string>()); };
  handlers.on_update = [&](const json&, const json& o) {
    record("update " + o["metadata"]["name"].get<std::string>());
  };
  handlers.on_delete = [&](const json& o) {
    record("delete " + o["metadata"]["name"].get<std::string>());
  };
  informer.AddEventHandlers(handlers);
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(30)));
  // kube-root-ca.crt is published into every namespace by the controller-manager.
  ASSERT_TRUE(client_->Create(resources::kConfigMaps, ns_, ConfigMap("x", {}, {{"tier", "gold"}})).ok());
  ASSERT_TRUE(client_->Patch(resources::kConfigMaps, ns_, "x", PatchType::kMerge,
                             {{"data", {{"k", "v"}}}})
                  .ok());
  ASSERT_TRUE(client_->Delete(resources::kConfigMaps, ns_, "before").ok());
  auto has = [&](const std::string& what) {
    MutexLock lock(mu);
    return std::find(seen.begin(), seen.end(), what) != seen.end();
  };
  EXPECT_TRUE(Eventually([&] { return has("delete before"); }));
  EXPECT_TRUE(has("add before"));
  EXPECT_TRUE(has("add x"));
  EXPECT_TRUE(has("update x"));
  EXPECT_EQ(informer.store().KeysByIndex("tier", "gold"), std::vector<std::string>{ns_ + "/x"});
  EXPECT_FALSE(informer.store().Get(ns_ + "/before").has_value());
}

TEST_F(KubeE2eTest, RepeatedEventIsAggregatedIntoACount) {
  auto made = client_->Create(resources::kConfigMaps, ns_, ConfigMap("subject"));
  ASSERT_TRUE(made.ok());
  EventRecorder recorder(*client_, "agentbudget-test", "e2e");
  for (int i = 0; i < 3; ++i) {
    Status recorded = recorder.Record(*made, EventSeverity::kWarning, "BudgetPressure",
                                      "held: team budget at 97%");
    ASSERT_TRUE(recorded.ok()) << recorded.error().ToString();
  }
  ASSERT_TRUE(recorder.Record(*made, EventSeverity::kNormal, "Admitted", "admitted").ok());
  ListOptions options;
  options.field_selector = "involvedObject.name=subject";
  auto events = client_->ListAll(resources::kEvents, ns_, options);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->items.size(), 2u);
  for (const json& event : events->items) {
    if (event["reason"] == "BudgetPressure") {
      EXPECT_EQ(event["count"], 3);
      EXPECT_EQ(event["type"], "Warning");
      EXPECT_EQ(event["involvedObject"]["uid"], (*made)["metadata"]["uid"]);
    } else {
      EXPECT_EQ(event["count"], 1);
    }
  }
}

TEST_F(KubeE2eTest, LeaseGoesToTheNextCandidateAsSoonAsTheLeaderReleasesIt) {
  LeaderElectionConfig config;
  config.lease_namespace = ns_;
  config.lease_name = "operator";
  config.lease_duration = std::chrono::seconds(15);
  config.renew_deadline = std::chrono::seconds(10);
  config.retry_period = std::chrono::milliseconds(200);
  std::atomic<bool> first_leading{false};
  std::atomic<bool> second_leading{false};
  config.identity = "first";
  LeaderElector first(*client_, config,
                      {[&] { first_leading = true; }, [&] { first_leading = false; }, nullptr});
  config.identity = "second";
  LeaderElector second(*client_, config,
                       {[&] { second_leading = true; }, [&] { second_leading = false; }, nullptr});
  std::thread first_thread([&] { EXPECT_TRUE(first.Run().ok()); });
  ASSERT_TRUE(Eventually([&] { return first_leading.load(); }));
  std::thread second_thread([&] { EXPECT_TRUE(second.Run().ok()); });
  // The second candidate cannot take an unexpired lease (over several retry periods).
  EXPECT_FALSE(Eventually([&] { return second_leading.load(); }, std::chrono::seconds(1)));
  auto released_at = std::chrono::steady_clock::now();
  first.Stop();
  first_thread.join();
  EXPECT_FALSE(first_leading.load());
  ASSERT_TRUE(Eventually([&] { return second_leading.load(); }));
  // Released, not expired: far sooner than the 15 s lease.
  EXPECT_LT(std::chrono::steady_clock::now() - released_at, std::chrono::seconds(5));
  auto lease = client_->Get(resources::kLeases, ns_, "operator");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "second");
  EXPECT_EQ((*lease)["spec"]["leaseTransitions"], 1);
  second.Stop();
  second_thread.join();
}

TEST_F(KubeE2eTest, ManagerRunsLeaderControllersOnlyWhileItLeadsAndHandsThemOver) {
  ASSERT_TRUE(client_->Create(resources::kConfigMaps, ns_, ConfigMap("before")).ok());
  // Two replicas of one process: each a manager with a leader-only controller on one
  // shared ConfigMap informer.
  struct Replica {
    Mutex mu;
    std::set<std::string> reconciled;
    std::unique_ptr<Manager> manager;  // last: stopped before what it reconciles into
    bool Saw(const std::string& key) {
      MutexLock lock(mu);
      return reconciled.contains(key);
    }
  };
  auto start = [&](Replica& replica, const std::string& identity) {
    ManagerOptions options;
    LeaderElectionConfig election;
    election.lease_namespace = ns_;
    election.lease_name = "manager";
    election.identity = identity;
    election.retry_period = std::chrono::milliseconds(200);
    options.leader_election = election;
    options.on_lost_leadership = [] { ADD_FAILURE() << "leadership lost"; };
    replica.manager = std::make_unique<Manager>(*client_, options);
    InformerOptions in_namespace;
    in_namespace.reflector.ns = ns_;
    Informer& config_maps = replica.manager->GetInformer(resources::kConfigMaps, in_namespace);
    EXPECT_EQ(&config_maps, &replica.manager->GetInformer(resources::kConfigMaps, in_namespace));
    Controller& controller = replica.manager->AddController(
        "config-maps", Scope::kLeader, 2, [&replica](const std::string& key) {
          MutexLock lock(replica.mu);
          replica.reconciled.insert(key);
          return Result<ReconcileResult>(ReconcileResult{});
        });
    replica.manager->Watch(controller, config_maps);
    replica.manager->Start();
  };
  Replica first;
  Replica second;
  start(first, "first");
  ASSERT_TRUE(Eventually([&] { return first.manager->IsLeader() && first.Saw(ns_ + "/before"); }));
  start(second, "second");
  ASSERT_TRUE(second.manager->WaitStarted(std::chrono::seconds(30)));
  ASSERT_TRUE(client_->Create(resources::kConfigMaps, ns_, ConfigMap("during")).ok());
  EXPECT_TRUE(Eventually([&] { return first.Saw(ns_ + "/during"); }));
  EXPECT_FALSE(second.manager->IsElected());
  EXPECT_FALSE(second.Saw(ns_ + "/before")) << "a follower runs no leader controller";

  // Stopping releases the lease; the follower takes over with the keys it collected.
  first.manager->Stop();
  ASSERT_TRUE(Eventually([&] { return second.manager->IsLeader(); }, std::chrono::seconds(10)));
  EXPECT_TRUE(Eventually([&] { return second.Saw(ns_ + "/before") && second.Saw(ns_ + "/during"); }));
  second.manager->Stop();
}

}  // namespace
}  // namespace agentbudget::kube
