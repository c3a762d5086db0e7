#include "operator/queue/queue_cache.h"

#include <gtest/gtest.h>

#include "tests/queue/queue_fixture.h"

namespace agentbudget::queue {
namespace {

using nlohmann::json;
using testing::QueueFixture;

class QueueCacheTest : public QueueFixture {};

TEST_F(QueueCacheTest, UnreflectedWritesAreBoundedWhateverTheirObjectsBecame) {
  Start();
  // Writes to objects that vanished before the cache saw the write: nothing reads them again.
  for (int i = 0; i < 10'000; ++i) {
    QueueObject item;
    item.kind = i % 2 == 0 ? QueueObject::Kind::kJob : QueueObject::Kind::kPod;
    item.key = "ci/run-" + std::to_string(i);
    item.resource_version = "7";
    cache_.Remember(item, QueueState::kRunning, QueueAnnotation::Admitted());
    ASSERT_LE(cache_.unreflected_writes(), QueueCache::kSweepAt);
  }
}

TEST_F(QueueCacheTest, AWriteStaysVisibleUntilTheCacheReflectsIt) {
  json job = {{"apiVersion", "batch/v1"},
              {"kind", "Job"},
              {"metadata",
               {{"name", "held"},
                {"namespace", "ci"},
                {"labels", {{"agentbudget.io/workload", "review"}}},
                {"annotations", {{"agentbudget.io/queue", R"({"state":"Pending"})"}}}}},
              {"spec", {{"suspend", true}}}};
  job = cluster_.Put(kube::resources::kJobs, job);
  Start();
  Reflect(cache_.jobs(), kube::resources::kJobs, "ci", "held");
  std::vector<Entry> entries = cache_.OfWorkload("ci/review");
  ASSERT_EQ(entries.size(), 1u);
  // Many writes later, among them the sweeps, this one is still remembered.
  cache_.Remember(entries[0].item, QueueState::kRunning, QueueAnnotation::Admitted());
  for (int i = 0; i < 1000; ++i) {
    QueueObject gone;
    gone.key = "ci/gone-" + std::to_string(i);
    gone.resource_version = "1";
    cache_.Remember(gone, QueueState::kRunning, std::nullopt);
  }
  entries = cache_.OfWorkload("ci/review");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].item.state, QueueState::kRunning);
}

TEST_F(QueueCacheTest, PodsTheWebhookDidNotLabelAreCachedAsSkeletons) {
  cluster_.Put(kube::resources::kPods,
               json::parse(R"({"apiVersion":"v1","kind":"Pod",
                 "metadata":{"name":"web","namespace":"ci","labels":{"app":"web"},
                             "annotations":{"note":"a long text the queue never reads"}},
                 "spec":{"initContainers":[{"name":"setup","image":"busybox","args":["x"]}],
                         "containers":[{"name":"web","image":"nginx"}]},
                 "status":{"phase":"Running","podIP":"10.0.0.1"}})"));
  Start();
  const json cached = *cache_.pods().store().Get("ci/web");
  EXPECT_EQ(cached["metadata"]["labels"]["app"], "web");
  EXPECT_FALSE(cached["metadata"].contains("annotations"));
  EXPECT_EQ(cached["spec"], json::parse(R"({"initContainers":[{"name":"setup"}]})"));
  EXPECT_EQ(cached["status"], json::parse(R"({"phase":"Running"})"));
  EXPECT_TRUE(RunsWithoutMeter(cached));
}

}  // namespace
}  // namespace agentbudget::queue
