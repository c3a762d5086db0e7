#include "meter/thread_cache.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "common/mutex.h"

namespace agentbudget::meter {
namespace {

using std::chrono::milliseconds;

bool Eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::yield();
  }
  return true;
}

TEST(ThreadCacheTest, NoTaskWaitsForAnother) {
  ThreadCache cache(milliseconds(10'000));
  Mutex mu;
  CondVar all_started;
  int started = 0;
  int finished = 0;
  constexpr int kTasks = 16;
  for (int i = 0; i < kTasks; ++i) {
    cache.Run([&] {
      MutexLock lock(mu);
      ++started;
      all_started.SignalAll();
      // Each task blocks until every task runs: only possible on threads of their own.
      if (all_started.WaitFor(mu, std::chrono::seconds(10),
                               [&] { return started == kTasks; })) {
        ++finished;
      }
    });
  }
  ASSERT_TRUE(Eventually([&] {
    MutexLock lock(mu);
    return finished == kTasks;
  }));
}

TEST(ThreadCacheTest, AnIdleThreadTakesTheNextTask) {
  ThreadCache cache(milliseconds(10'000));
  Mutex mu;
  std::thread::id first;
  std::thread::id second;
  cache.Run([&] {
    MutexLock lock(mu);
    first = std::this_thread::get_id();
  });
  ASSERT_TRUE(Eventually([&] { return cache.IdleThreads() == 1; }));
  cache.Run([&] {
    MutexLock lock(mu);
    second = std::this_thread::get_id();
  });
  ASSERT_TRUE(Eventually([&] {
    MutexLock lock(mu);
    return second != std::thread::id();
  }));
  MutexLock lock(mu);
  EXPECT_EQ(first, second);
  EXPECT_EQ(cache.Threads(), 1);
}

TEST(ThreadCacheTest, IdleThreadsExitAfterTheIdleLimit) {
  ThreadCache cache(milliseconds(20));
  for (int i = 0; i < 4; ++i) {
    cache.Run([] {});
  }
  ASSERT_TRUE(Eventually([&] { return cache.Threads() == 0; }));
}

TEST(ThreadCacheTest, DestructionWaitsForRunningTasks) {
  bool done = false;
  {
    ThreadCache cache(milliseconds(10'000));
    cache.Run([&] {
      std::this_thread::sleep_for(milliseconds(50));
      done = true;
    });
  }
  EXPECT_TRUE(done);
}

}  // namespace
}  // namespace agentbudget::meter
