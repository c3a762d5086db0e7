#include "operator/authority/group_committer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

namespace agentbudget::authority {
namespace {

using std::chrono::milliseconds;

LedgerEntry Entry(int i) {
  LedgerEntry entry;
  entry.id = "r-" + std::to_string(i);
  entry.run = "run";
  entry.idempotency_key = "k" + std::to_string(i);
  return entry;
}

// Waits (up to five seconds) for `count` to reach `target`.
bool Reaches(const std::atomic<int>& count, int target) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
  while (count.load() < target) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::yield();
  }
  return true;
}

TEST(GroupCommitterTest, EntriesSubmittedTogetherAreWrittenInOneAppend) {
  InMemoryLedgerStore store;
  std::atomic<int> durable{0};
  {
    GroupCommitter committer(store, {milliseconds{50}, 1000});
    for (int i = 0; i < 100; ++i) {
      committer.Submit(Entry(i), [&durable] { ++durable; });
    }
    ASSERT_TRUE(Reaches(durable, 100));
  }
  EXPECT_EQ(store.appends(), 1);
  EXPECT_EQ(store.Load()->size(), 100U);
}

TEST(GroupCommitterTest, FullBatchIsWrittenWithoutWaitingForTheInterval) {
  InMemoryLedgerStore store;
  std::atomic<int> durable{0};
  GroupCommitter committer(store, {milliseconds{60'000}, 10});
  for (int i = 0; i < 10; ++i) {
    committer.Submit(Entry(i), [&durable] { ++durable; });
  }
  EXPECT_TRUE(Reaches(durable, 10));
}

TEST(GroupCommitterTest, FailedAppendIsRetriedAndNothingIsAcknowledgedBeforeIt) {
  InMemoryLedgerStore store;
  store.FailNextAppends(2);
  std::atomic<int> durable{0};
  std::atomic<int> appends_seen_at_ack{-1};
  GroupCommitter committer(store, {milliseconds{5}, 1000});
  committer.Submit(Entry(1), [&] {
    appends_seen_at_ack = store.appends();
    ++durable;
  });
  ASSERT_TRUE(Reaches(durable, 1));
  EXPECT_EQ(appends_seen_at_ack.load(), 1);
  EXPECT_EQ(committer.pending(), 0U);
}

TEST(GroupCommitterTest, StoppedCommitterAcknowledgesNothingMore) {
  InMemoryLedgerStore store;
  store.FailNextAppends(1'000'000);
  std::atomic<int> durable{0};
  {
    GroupCommitter committer(store, {milliseconds{5}, 1000});
    committer.Submit(Entry(1), [&durable] { ++durable; });
    committer.Stop();
  }
  EXPECT_EQ(durable.load(), 0);
  EXPECT_TRUE(store.Load()->empty());
}

}  // namespace
}  // namespace agentbudget::authority
