#include "kube/controller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>

#include "common/mutex.h"
#include "tests/kube/fake_api_server.h"

namespace agentbudget::kube {
namespace {

using std::chrono::milliseconds;

TEST(ControllerTest, FailedReconcileIsRetriedWithBackoffUntilItSucceeds) {
  std::atomic<int> calls{0};
  Controller controller("test", [&](const std::string&) -> Result<ReconcileResult> {
    if (++calls < 3) {
      return Unavailable("not yet");
    }
    return ReconcileResult{};
  });
  controller.Start(1);
  controller.queue().Add("ns/a");
  EXPECT_TRUE(testing::WaitUntil([&] { return calls.load() == 3; }));
  EXPECT_TRUE(testing::WaitUntil([&] { return controller.queue().NumRequeues("ns/a") == 0; }));
  controller.Stop();
  EXPECT_EQ(calls.load(), 3);
}

TEST(ControllerTest, RequeueAfterRunsTheKeyAgainLater) {
  std::atomic<int> calls{0};
  Controller controller("test", [&](const std::string&) -> Result<ReconcileResult> {
    ReconcileResult result;
    if (++calls == 1) {
      result.requeue_after = milliseconds(30);
    }
    return result;
  });
  controller.Start(1);
  controller.queue().Add("ns/a");
  EXPECT_TRUE(testing::WaitUntil([&] { return calls.load() == 2; }));
  controller.Stop();
}

TEST(ControllerTest, AKeyIsNeverReconciledByTwoWorkersAtOnce) {
  Mutex mu;
  std::map<std::string, int> active;
  std::atomic<bool> overlap{false};
  std::atomic<int> calls{0};
  Controller controller("test", [&](const std::string& key) -> Result<ReconcileResult> {
    {
      MutexLock lock(mu);
      if (++active[key] > 1) {
        overlap = true;
      }
    }
    std::this_thread::sleep_for(milliseconds(1));  // hold the key while others add it
    {
      MutexLock lock(mu);
      --active[key];
    }
    ++calls;
    return ReconcileResult{};
  });
  controller.Start(4);
  for (int i = 0; i < 200; ++i) {
    controller.queue().Add("ns/" + std::to_string(i % 3));
  }
  EXPECT_TRUE(testing::WaitUntil([&] { return controller.queue().Len() == 0; }));
  controller.Stop();
  EXPECT_FALSE(overlap.load());
  EXPECT_GE(calls.load(), 3);
}

TEST(ControllerTest, StopFinishesKeysAlreadyQueued) {
  std::atomic<int> calls{0};
  Controller controller("test", [&](const std::string&) -> Result<ReconcileResult> {
    ++calls;
    return ReconcileResult{};
  });
  for (int i = 0; i < 5; ++i) {
    controller.queue().Add("ns/" + std::to_string(i));
  }
  controller.Start(2);
  controller.Stop();
  EXPECT_EQ(calls.load(), 5);
}

}  // namespace
}  // namespace agentbudget::kube
