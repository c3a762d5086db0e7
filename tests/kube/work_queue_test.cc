#include "kube/work_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/kube/fake_api_server.h"

namespace agentbudget::kube {
namespace {

using std::chrono::milliseconds;

TEST(WorkQueueTest, KeyAddedManyTimesIsQueuedOnce) {
  WorkQueue queue;
  queue.Add("a");
  queue.Add("a");
  queue.Add("b");
  EXPECT_EQ(queue.Len(), 2u);
  EXPECT_EQ(queue.Get(), "a");
  EXPECT_EQ(queue.Get(), "b");
}

TEST(WorkQueueTest, KeyReaddedDuringProcessingRunsAgainAfterDone) {
  WorkQueue queue;
  queue.Add("a");
  ASSERT_EQ(queue.Get(), "a");
  queue.Add("a");
  // Held back while a worker has it, so no second worker can take it.
  EXPECT_EQ(queue.Len(), 0u);
  queue.Done("a");
  EXPECT_EQ(queue.Len(), 1u);
  EXPECT_EQ(queue.Get(), "a");
}

TEST(WorkQueueTest, DelayedKeyArrivesAfterItsDelay) {
  WorkQueue queue;
  auto start = std::chrono::steady_clock::now();
  queue.AddAfter("a", milliseconds(50));
  EXPECT_EQ(queue.Len(), 0u);
  EXPECT_EQ(queue.Get(), "a");
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(50));
}

TEST(WorkQueueTest, DelayedKeyKeepsTheEarlierOfTwoDueTimes) {
  WorkQueue queue;
  queue.AddAfter("a", std::chrono::hours(1));
  queue.AddAfter("a", milliseconds(10));
  EXPECT_EQ(queue.Get(), "a");
}

TEST(WorkQueueTest, RateLimitedKeyBacksOffUntilForgotten) {
  WorkQueue queue;
  queue.AddRateLimited("a");
  queue.AddRateLimited("a");
  EXPECT_EQ(queue.NumRequeues("a"), 2);
  queue.Forget("a");
  EXPECT_EQ(queue.NumRequeues("a"), 0);
  EXPECT_EQ(queue.Get(), "a");
}

TEST(WorkQueueTest, ShutDownHandsOutQueuedKeysThenEnds) {
  WorkQueue queue;
  queue.Add("a");
  queue.ShutDown();
  queue.Add("b");
  EXPECT_EQ(queue.Get(), "a");
  EXPECT_EQ(queue.Get(), std::nullopt);
}

TEST(WorkQueueTest, ShutDownWithDrainWaitsForKeysInProcess) {
  WorkQueue queue;
  queue.Add("a");
  ASSERT_EQ(queue.Get(), "a");
  std::atomic<bool> drained{false};
  std::thread stopper([&] {
    queue.ShutDownWithDrain();
    drained = true;
  });
  ASSERT_TRUE(testing::WaitUntil([&] { return queue.shutting_down(); }));
  EXPECT_FALSE(drained.load());
  queue.Done("a");
  stopper.join();
  EXPECT_TRUE(drained.load());
}

TEST(WorkQueueTest, BlockedGetReturnsWhenShutDown) {
  WorkQueue queue;
  std::optional<std::string> got = "unset";
  std::thread worker([&] { got = queue.Get(); });
  queue.ShutDown();
  worker.join();
  EXPECT_EQ(got, std::nullopt);
}

}  // namespace
}  // namespace agentbudget::kube
