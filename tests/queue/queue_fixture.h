#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "api/v1alpha1/resources.h"
#include "kube/event_recorder.h"
#include "kube/manager.h"
#include "operator/queue/queue_cache.h"
#include "operator/queue/queue_metrics.h"
#include "operator/queue/queue_writer.h"
#include "tests/authority/fake_clock.h"
#include "tests/queue/memory_cluster.h"

namespace agentbudget::queue::testing {

// The queue's shared parts (caches, writer, metrics, Event recorder) on an API server in
// memory, for tests that drive one controller's Reconcile by hand. Seed the cluster, then
// Start() the manager (informers only: no controller is registered with it).
class QueueFixture : public ::testing::Test {
 protected:
  QueueFixture()
      : client_(cluster_.NewClient()),
        manager_(*client_),
        recorder_(*client_, "agentbudget-operator", "test", clock_),
        cache_(manager_),
        writer_(*client_, recorder_, cache_),
        registry_(std::make_shared<prometheus::Registry>()),
        metrics_(*registry_) {}
  ~QueueFixture() override { manager_.Stop(); }

  void Start() {
    manager_.Start();
    ASSERT_TRUE(manager_.WaitStarted(std::chrono::seconds{10}));
  }

  // Polls `condition` every millisecond until it holds or ten seconds pass.
  static bool Eventually(const std::function<bool()>& condition) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
    while (!condition()) {
      if (std::chrono::steady_clock::now() > deadline) {
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
    }
    return true;
  }

  // Waits until `informer`'s cache holds `key` at the version the cluster has ("" when the
  // cluster no longer has it).
  void Reflect(const kube::Informer& informer, const kube::GroupVersionResource& gvr,
               const std::string& ns, const std::string& name) {
    const std::optional<nlohmann::json> stored = cluster_.Get(gvr, ns, name);
    const std::string version =
        stored ? (*stored)["metadata"]["resourceVersion"].get<std::string>() : "";
    const std::string key = ns.empty() ? name : ns + "/" + name;
    ASSERT_TRUE(Eventually([&] { return informer.store().ResourceVersion(key) == version; }))
        << key << " not reflected at version '" << version << "'";
  }

  // Seeds the cluster (before Start, or followed by Reflect).
  nlohmann::json PutNamespace(const std::string& name, bool opted_in) {
    nlohmann::json labels = {{"agentbudget.io/team", name}};
    if (opted_in) {
      labels["agentbudget.io/inject"] = "enabled";
    }
    return cluster_.Put(kube::resources::kNamespaces,
                        {{"metadata", {{"name", name}, {"labels", labels}}}});
  }
  nlohmann::json PutWorkload(const std::string& ns, const std::string& name,
                             const nlohmann::json& match_labels,
                             const nlohmann::json& extra_spec = nlohmann::json::object()) {
    nlohmann::json spec = {{"selector", {{"matchLabels", match_labels}}},
                           {"class", "AutonomousBounded"},
                           {"priority", "Standard"}};
    spec.update(extra_spec);
    return cluster_.Put(v1alpha1::kAgentWorkloads,
                        {{"apiVersion", "agentbudget.io/v1alpha1"},
                         {"kind", "AgentWorkload"},
                         {"metadata", {{"name", name}, {"namespace", ns}, {"generation", 1}}},
                         {"spec", std::move(spec)}});
  }

  // Events recorded with `reason`, in the cluster.
  std::vector<nlohmann::json> Events(const std::string& reason) const {
    std::vector<nlohmann::json> events;
    for (nlohmann::json& event : cluster_.List(kube::resources::kEvents)) {
      if (event.value("reason", "") == reason) {
        events.push_back(std::move(event));
      }
    }
    return events;
  }

  // The metrics in the Prometheus text format.
  std::string Metrics() const {
    return prometheus::TextSerializer().Serialize(registry_->Collect());
  }

  MemoryCluster cluster_;
  std::unique_ptr<kube::Client> client_;
  authority::FakeClock clock_{std::chrono::system_clock::time_point{std::chrono::hours{500'000}}};
  kube::Manager manager_;
  kube::EventRecorder recorder_;
  QueueCache cache_;
  QueueWriter writer_;
  std::shared_ptr<prometheus::Registry> registry_;
  QueueMetrics metrics_;
};

}  // namespace agentbudget::queue::testing
