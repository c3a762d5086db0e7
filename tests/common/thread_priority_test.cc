#include "common/thread_priority.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "common/mutex.h"
#include "tests/common/thread_nice.h"

namespace agentbudget {
namespace {

TEST(ThreadPriorityTest, NamesTheCallingThreadAndLowersItAloneToTheBackgroundNice) {
  Mutex mu;
  CondVar changed;
  bool lowered = false;
  bool done = false;
  std::thread background([&] {
    NameBackgroundThread("bg-under-test");
    MutexLock lock(mu);
    lowered = true;
    changed.SignalAll();
    changed.Wait(mu, [&] { return done; });
  });
  {
    MutexLock lock(mu);
    changed.Wait(mu, [&] { return lowered; });
  }
  EXPECT_EQ(testing::NiceOfThreads("bg-under-test"), std::vector<int>{kBackgroundNice});
  EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())), 0)
      << "the thread that started it keeps its priority";
  {
    MutexLock lock(mu);
    done = true;
    changed.SignalAll();
  }
  background.join();
}

}  // namespace
}  // namespace agentbudget
