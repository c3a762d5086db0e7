#include "meter/commit_spool.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>
#include <vector>

namespace agentbudget::meter {
namespace {

class CommitSpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/spool-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(CommitSpoolTest, KeepsEntriesInOrderAcrossReopening) {
  {
    auto spool = CommitSpool::Open(dir_);
    ASSERT_TRUE(spool.ok());
    EXPECT_EQ(*(*spool)->Append({{"n", 1}}), 1u);
    EXPECT_EQ(*(*spool)->Append({{"n", 2}}), 2u);
  }
  auto reopened = CommitSpool::Open(dir_);
  ASSERT_TRUE(reopened.ok());
  const auto pending = (*reopened)->Pending();
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].second["n"], 1);
  EXPECT_EQ(pending[1].second["n"], 2);
  EXPECT_EQ(*(*reopened)->Append({{"n", 3}}), 3u);
}

// Appends from many threads at once (the meter's commit threads) each get their own number
// and file; every one is there, readable, once its Append returned.
TEST_F(CommitSpoolTest, ConcurrentAppendsAreEachStoredUnderTheirOwnNumber) {
  auto spool = CommitSpool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  constexpr int kThreads = 8;
  constexpr int kEach = 25;
  std::vector<std::vector<uint64_t>> numbers(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto appended = (*spool)->Append({{"thread", t}, {"i", i}});
        if (appended.ok()) {
          numbers[t].push_back(*appended);
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  std::set<uint64_t> distinct;
  for (const auto& mine : numbers) {
    ASSERT_EQ(mine.size(), static_cast<size_t>(kEach));
    // One thread's appends follow each other: their numbers rise.
    EXPECT_TRUE(std::is_sorted(mine.begin(), mine.end()));
    distinct.insert(mine.begin(), mine.end());
  }
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kThreads * kEach));
  const auto pending = (*spool)->Pending();
  ASSERT_EQ(pending.size(), static_cast<size_t>(kThreads * kEach));
  for (const auto& [sequence, entry] : pending) {
    EXPECT_EQ(distinct.count(sequence), 1u);
    const int t = entry["thread"];
    const int i = entry["i"];
    EXPECT_EQ(numbers[t][i], sequence);
  }
}

TEST_F(CommitSpoolTest, RemovedEntriesAreGoneAndRemovingTwiceSucceeds) {
  auto spool = CommitSpool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  const uint64_t first = *(*spool)->Append({{"n", 1}});
  ASSERT_TRUE((*spool)->Append({{"n", 2}}).ok());
  ASSERT_TRUE((*spool)->Remove(first).ok());
  EXPECT_TRUE((*spool)->Remove(first).ok());
  const auto pending = (*spool)->Pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].second["n"], 2);
}

TEST_F(CommitSpoolTest, DropsInterruptedAppendsAndSkipsUnreadableEntries) {
  std::filesystem::create_directories(dir_);
  std::ofstream(dir_ + "/00000000000000000001.json.tmp") << "{\"half";
  std::ofstream(dir_ + "/00000000000000000002.json") << "not json";
  auto spool = CommitSpool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/00000000000000000001.json.tmp"));
  EXPECT_TRUE((*spool)->Pending().empty());
  EXPECT_EQ(*(*spool)->Append({{"n", 3}}), 3u);
}

TEST_F(CommitSpoolTest, HoldsAtMostItsBoundAndRefusesAppendsPastIt) {
  auto spool = CommitSpool::Open(dir_, 3);
  ASSERT_TRUE(spool.ok());
  for (int n = 1; n <= 3; ++n) {
    ASSERT_TRUE((*spool)->Append({{"n", n}}).ok());
  }
  EXPECT_TRUE((*spool)->full());
  auto refused = (*spool)->Append({{"n", 4}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kResourceExhausted);
  EXPECT_NE(refused.error().message.find("full: 3 entries"), std::string::npos);
  EXPECT_EQ((*spool)->size(), 3u);
  size_t files = 0;
  for ([[maybe_unused]] const auto& file : std::filesystem::directory_iterator(dir_)) {
    ++files;
  }
  EXPECT_EQ(files, 3u);
  ASSERT_TRUE((*spool)->Remove(1).ok());
  EXPECT_FALSE((*spool)->full());
  EXPECT_EQ(*(*spool)->Append({{"n", 5}}), 4u);
}

// A previous process's entries are all kept, even past a smaller bound; appends wait.
TEST_F(CommitSpoolTest, LoadsEveryLeftEntryEvenPastTheBound) {
  {
    auto spool = CommitSpool::Open(dir_);
    ASSERT_TRUE(spool.ok());
    for (int n = 1; n <= 3; ++n) {
      ASSERT_TRUE((*spool)->Append({{"n", n}}).ok());
    }
  }
  auto reopened = CommitSpool::Open(dir_, 2);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->Pending().size(), 3u);
  EXPECT_TRUE((*reopened)->full());
  EXPECT_EQ((*reopened)->Append({{"n", 4}}).error().code, ErrorCode::kResourceExhausted);
}

// The directory is read by Open only: later answers come from the spool's own index.
TEST_F(CommitSpoolTest, AnswersFromItsIndexNotTheDirectory) {
  auto spool = CommitSpool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  ASSERT_TRUE((*spool)->Append({{"n", 1}}).ok());
  std::ofstream(dir_ + "/00000000000000000009.json") << R"({"n":9})";
  const auto pending = (*spool)->Pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].second["n"], 1);
}

TEST_F(CommitSpoolTest, OldestSkipsTheEntriesAskedToAndStopsAtTheLimit) {
  auto spool = CommitSpool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  for (int n = 1; n <= 4; ++n) {
    ASSERT_TRUE((*spool)->Append({{"n", n}}).ok());
  }
  const auto oldest = (*spool)->Oldest(2, {1, 3});
  ASSERT_EQ(oldest.size(), 2u);
  EXPECT_EQ(oldest[0].first, 2u);
  EXPECT_EQ(oldest[1].first, 4u);
}

TEST_F(CommitSpoolTest, FailsClearlyWhenTheDirectoryCannotBeCreated) {
  auto spool = CommitSpool::Open("/proc/agentbudget-cannot-exist");
  ASSERT_FALSE(spool.ok());
  EXPECT_EQ(spool.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(spool.error().message.find("spool directory"), std::string::npos);
}

}  // namespace
}  // namespace agentbudget::meter
