#include "operator/queue/compute_cost.h"

#include <gtest/gtest.h>

#include "core/time_format.h"

namespace agentbudget::queue {
namespace {

using nlohmann::json;

TEST(ComputeCostTest, ParsesQuantitiesInMilliUnits) {
  EXPECT_EQ(*ParseQuantityMillis("500m"), 500);
  EXPECT_EQ(*ParseQuantityMillis("2"), 2000);
  EXPECT_EQ(*ParseQuantityMillis("1.5"), 1500);
  EXPECT_EQ(*ParseQuantityMillis("1Gi"), 1073741824000);
  EXPECT_EQ(*ParseQuantityMillis("256Mi"), 268435456000);
  EXPECT_EQ(*ParseQuantityMillis("1k"), 1000000);
}

TEST(ComputeCostTest, RejectsWhatIsNotAQuantity) {
  for (const char* bad : {"", "m", "1x", "-1", "1e3", "99999999999999999999"}) {
    EXPECT_FALSE(ParseQuantityMillis(bad).ok()) << bad;
  }
}

TEST(ComputeCostTest, SumsContainersAndNativeSidecarsOnly) {
  const json pod = json::parse(R"({"spec": {
    "containers": [{"resources": {"requests": {"cpu": "1", "memory": "1Gi"}}},
                   {"resources": {"requests": {"cpu": "bogus"}}}],
    "initContainers": [{"restartPolicy": "Always", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}},
                       {"resources": {"requests": {"cpu": "4"}}}]}})");
  const PodRequests requests = RequestsOf(pod);
  EXPECT_EQ(requests.millicores, 1100);
  EXPECT_EQ(requests.memory_bytes, (1LL << 30) + (64LL << 20));
}

TEST(ComputeCostTest, RuntimeRunsFromStartToTheLastTermination) {
  const json pod = json::parse(R"({"status": {"startTime": "2026-11-27T10:00:00Z",
    "containerStatuses": [{"state": {"terminated": {"finishedAt": "2026-11-27T10:30:00Z"}}},
                          {"state": {"terminated": {"finishedAt": "2026-11-27T10:45:00Z"}}}]}})");
  const auto ended = *core::ParseRfc3339("2026-11-27T12:00:00Z");
  EXPECT_EQ(RuntimeSeconds(pod, ended), 2700);
}

TEST(ComputeCostTest, RuntimeOfADeletedPodEndsAtItsDeletion) {
  const json pod = json::parse(R"({"status": {"startTime": "2026-11-27T10:00:00Z"}})");
  EXPECT_EQ(RuntimeSeconds(pod, *core::ParseRfc3339("2026-11-27T10:10:00Z")), 600);
  EXPECT_FALSE(RuntimeSeconds(json::object(), *core::ParseRfc3339("2026-11-27T10:10:00Z")));
}

TEST(ComputeCostTest, PricesRequestsTimesRuntime) {
  // 2 cores and 4 GiB for 30 minutes at $0.04 per core-hour and $0.005 per GiB-hour:
  // 2 × 0.5 × 0.04 + 4 × 0.5 × 0.005 = $0.05.
  const ComputePrices prices{40'000, 5'000};
  EXPECT_EQ(ComputeCostMicros({2000, 4LL << 30}, 1800, prices), 50'000);
}

TEST(ComputeCostTest, RoundsUpToTheMicroAndSaturates) {
  EXPECT_EQ(ComputeCostMicros({1, 0}, 1, {1, 0}), 1);
  EXPECT_GT(ComputeCostMicros({INT64_MAX, INT64_MAX}, INT64_MAX, {INT64_MAX, INT64_MAX}), 0);
}

}  // namespace
}  // namespace agentbudget::queue
