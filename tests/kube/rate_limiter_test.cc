#include "kube/rate_limiter.h"

#include <gtest/gtest.h>

namespace agentbudget::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

class FakeClock : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override { return {}; }
  std::chrono::steady_clock::time_point Monotonic() const override { return now; }
  std::chrono::steady_clock::time_point now{};
};

TEST(ItemBackoffTest, DelayDoublesPerFailureUpToTheCap) {
  ItemBackoff backoff(milliseconds(5), seconds(1000));
  EXPECT_EQ(backoff.When("a"), milliseconds(5));
  EXPECT_EQ(backoff.When("a"), milliseconds(10));
  EXPECT_EQ(backoff.When("a"), milliseconds(20));
  EXPECT_EQ(backoff.Failures("a"), 3);
  for (int i = 0; i < 100; ++i) {
    backoff.When("a");
  }
  EXPECT_EQ(backoff.When("a"), seconds(1000));
}

TEST(ItemBackoffTest, ForgetRestartsTheKeysBackoffOnly) {
  ItemBackoff backoff(milliseconds(5), seconds(1000));
  backoff.When("a");
  backoff.When("a");
  backoff.When("b");
  backoff.Forget("a");
  EXPECT_EQ(backoff.When("a"), milliseconds(5));
  EXPECT_EQ(backoff.When("b"), milliseconds(10));
}

TEST(TokenBucketTest, BurstIsFreeThenTokensComeAtQps) {
  FakeClock clock;
  TokenBucket bucket(10, 3, clock);
  EXPECT_EQ(bucket.Reserve(), nanoseconds(0));
  EXPECT_EQ(bucket.Reserve(), nanoseconds(0));
  EXPECT_EQ(bucket.Reserve(), nanoseconds(0));
  EXPECT_EQ(bucket.Reserve(), milliseconds(100));
  EXPECT_EQ(bucket.Reserve(), milliseconds(200));
  clock.now += seconds(10);
  EXPECT_EQ(bucket.Reserve(), nanoseconds(0));
}

TEST(QueueRateLimiterTest, OverallBucketCapsManyKeysFailingAtOnce) {
  FakeClock clock;
  QueueRateLimiter limiter({milliseconds(5), seconds(1000), 10, 2}, clock);
  EXPECT_EQ(limiter.When("a"), milliseconds(5));
  EXPECT_EQ(limiter.When("b"), milliseconds(5));
  EXPECT_EQ(limiter.When("c"), milliseconds(100));
}

}  // namespace
}  // namespace agentbudget::kube
