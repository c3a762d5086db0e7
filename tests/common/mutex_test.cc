#include "common/mutex.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace agentbudget {
namespace {

// A flag set by one thread and awaited by another, as the annotated classes use CondVar.
class Flag {
 public:
  void Set() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    set_ = true;
    changed_.SignalAll();
  }
  void Await() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    changed_.Wait(mu_, [this]() REQUIRES(mu_) { return set_; });
  }
  bool AwaitFor(std::chrono::milliseconds timeout) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return changed_.WaitFor(mu_, timeout, [this]() REQUIRES(mu_) { return set_; });
  }

 private:
  Mutex mu_;
  CondVar changed_;
  bool set_ GUARDED_BY(mu_) = false;
};

TEST(CondVarTest, WaitReturnsOnceAnotherThreadMakesThePredicateTrue) {
  Flag flag;
  std::thread setter([&flag] { flag.Set(); });
  flag.Await();
  setter.join();
  EXPECT_TRUE(flag.AwaitFor(std::chrono::milliseconds(0)));
}

TEST(CondVarTest, WaitForReturnsFalseWhenThePredicateStaysFalse) {
  Flag flag;
  EXPECT_FALSE(flag.AwaitFor(std::chrono::milliseconds(10)));
}

TEST(MutexTest, TryLockFailsWhileAnotherThreadHoldsTheMutex) {
  Mutex mu;
  MutexLock lock(mu);
  bool acquired = false;
  std::thread other([&] {
    if (mu.TryLock()) {
      acquired = true;
      mu.Unlock();
    }
  });
  other.join();
  EXPECT_FALSE(acquired);
}

}  // namespace
}  // namespace agentbudget
