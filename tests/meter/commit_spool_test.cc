#include "meter/commit_spool.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
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

  // The names of the files in the spool's directory ending in `suffix`.
  std::vector<std::string> FilesEndingIn(const std::string& suffix) const {
    std::vector<std::string> names;
    for (const auto& file : std::filesystem::directory_iterator(dir_)) {
      if (file.path().filename().string().ends_with(suffix)) {
        names.push_back(file.path().filename().string());
      }
    }
    return names;
  }
  // The sequence numbers of the spool's entries, in order.
  static std::vector<uint64_t> Sequences(const CommitSpool& spool) {
    std::vector<uint64_t> sequences;
    for (const auto& [sequence, entry] : spool.Pending()) {
      sequences.push_back(sequence);
    }
    return sequences;
  }
  // Writes a segment file as a previous process would have left it.
  void WriteSegment(const std::string& name, const std::string& text) const {
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ + "/" + name, std::ios::binary) << text;
  }

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
// and are stored once; every one is there, readable, once its Append returned, and again
// after reopening. They share their syncs: one writer syncs for all the appends queued.
TEST_F(CommitSpoolTest, ConcurrentAppendsAreEachStoredOnceAndShareTheirSyncs) {
  auto spool = CommitSpool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  const uint64_t syncs_at_open = (*spool)->syncs();
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
  // Eight threads appending back to back queue behind each other's syncs.
  EXPECT_LT((*spool)->syncs() - syncs_at_open, static_cast<uint64_t>(kThreads * kEach));
  spool->reset();
  auto reopened = CommitSpool::Open(dir_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->Pending(), pending);
}

// Queued appends (a call's commit) return at once; the writer answers each exactly once,
// in sequence order, and the records queued during one sync share the next. Until then
// they count in size(), so a spool of size 0 has nothing left to send.
TEST_F(CommitSpoolTest, QueuedAppendsAreAnsweredOnceInOrderAndCountUntilStored) {
  auto spool = CommitSpool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  const uint64_t syncs_before = (*spool)->syncs();
  constexpr size_t kAppends = 1000;
  Mutex mu;
  std::vector<uint64_t> answered;  // under mu
  for (size_t i = 0; i < kAppends; ++i) {
    (*spool)->Append({{"i", i}}, [&](Result<uint64_t> sequence) {
      ASSERT_TRUE(sequence.ok()) << sequence.error().message;
      MutexLock lock(mu);
      answered.push_back(*sequence);
    });
  }
  EXPECT_EQ((*spool)->size(), kAppends);  // stored or still queued
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      MutexLock lock(mu);
      if (answered.size() == kAppends) {
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  {
    MutexLock lock(mu);
    ASSERT_EQ(answered.size(), kAppends);
    EXPECT_TRUE(std::is_sorted(answered.begin(), answered.end()));
    EXPECT_EQ(std::set<uint64_t>(answered.begin(), answered.end()).size(), kAppends);
  }
  EXPECT_LT((*spool)->syncs() - syncs_before, kAppends);
  spool->reset();
  auto reopened = CommitSpool::Open(dir_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->size(), kAppends);
}

TEST_F(CommitSpoolTest, RemovedEntriesAreGoneAndRemovingTwiceSucceeds) {
  auto spool = CommitSpool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  const uint64_t first = *(*spool)->Append({{"n", 1}});
  ASSERT_TRUE((*spool)->Append({{"n", 2}}).ok());
  (*spool)->Remove(first);
  (*spool)->Remove(first);  // an absent entry: nothing happens
  const auto pending = (*spool)->Pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].second["n"], 2);
}

TEST_F(CommitSpoolTest, RemovalsSurviveReopening) {
  {
    auto spool = CommitSpool::Open(dir_);
    ASSERT_TRUE(spool.ok());
    for (int n = 1; n <= 3; ++n) {
      ASSERT_TRUE((*spool)->Append({{"n", n}}).ok());
    }
    (*spool)->Remove(2);
  }
  auto reopened = CommitSpool::Open(dir_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(Sequences(**reopened), (std::vector<uint64_t>{1, 3}));
}

// Each start writes what is left into a segment of its own and deletes the old ones.
TEST_F(CommitSpoolTest, ReopeningLeavesOneSegmentHoldingWhatIsLeft) {
  for (int start = 0; start < 3; ++start) {
    auto spool = CommitSpool::Open(dir_);
    ASSERT_TRUE(spool.ok());
    ASSERT_TRUE((*spool)->Append({{"start", start}}).ok());
  }
  EXPECT_EQ(FilesEndingIn(".log").size(), 1u);
  auto spool = CommitSpool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  EXPECT_EQ((*spool)->size(), 3u);
}

// A crash during a write leaves its records without their last newline: that append never
// returned, so its record is not an entry.
TEST_F(CommitSpoolTest, IgnoresTheUnfinishedRecordOfAnInterruptedAppend) {
  WriteSegment("00000000000000000001.log", "+1 {\"n\":1}\n+2 {\"n\":");
  auto spool = CommitSpool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  EXPECT_EQ(Sequences(**spool), std::vector<uint64_t>{1});
  EXPECT_TRUE(FilesEndingIn(".corrupt").empty());
  EXPECT_EQ(*(*spool)->Append({{"n", 2}}), 2u);
}

// Unreadable lines are never sent; their segment is kept apart for inspection, and its
// readable records count as any other.
TEST_F(CommitSpoolTest, KeepsASegmentWithUnreadableLinesApartAndItsReadableRecords) {
  WriteSegment("00000000000000000001.log",
               "+1 {\"n\":1}\nnot a record\n+2 {\"n\"\n+3 {\"n\":3}\n-1\n");
  {
    auto spool = CommitSpool::Open(dir_);
    ASSERT_TRUE(spool.ok());
    EXPECT_EQ(Sequences(**spool), std::vector<uint64_t>{3});
    EXPECT_EQ(*(*spool)->Append({{"n", 4}}), 4u);
  }
  EXPECT_EQ(FilesEndingIn(".corrupt"),
            std::vector<std::string>{"00000000000000000001.log.corrupt"});
  // The next start reads the readable records where the previous one wrote them, only.
  auto reopened = CommitSpool::Open(dir_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(Sequences(**reopened), (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(FilesEndingIn(".corrupt").size(), 1u);
}

// A write the disk refuses fails the appends that shared it and stores none of them; the
// next write starts a new segment rather than append after the partial record.
TEST_F(CommitSpoolTest, AFailedWriteStoresNothingAndTheNextGoesToANewSegment) {
  auto spool = CommitSpool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  ASSERT_TRUE((*spool)->Append({{"n", 1}}).ok());
  // For one append, files may not grow past 100 bytes: the write stops part way.
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  rlimit small = saved;
  small.rlim_cur = 100;
  const auto handler = std::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  auto refused = (*spool)->Append({{"n", std::string(200, 'x')}});
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &saved), 0);
  std::signal(SIGXFSZ, handler);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(Sequences(**spool), std::vector<uint64_t>{1});
  EXPECT_EQ(*(*spool)->Append({{"n", 3}}), 3u);
  EXPECT_EQ(FilesEndingIn(".log").size(), 2u);
  spool->reset();
  auto reopened = CommitSpool::Open(dir_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(Sequences(**reopened), (std::vector<uint64_t>{1, 3}));
  EXPECT_TRUE(FilesEndingIn(".corrupt").empty());
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
  (*spool)->Remove(1);
  EXPECT_FALSE((*spool)->full());
  EXPECT_EQ(*(*spool)->Append({{"n", 5}}), 4u);
  spool->reset();
  // The refused entry was not written either.
  auto reopened = CommitSpool::Open(dir_, 3);
  ASSERT_TRUE(reopened.ok());
  const auto pending = (*reopened)->Pending();
  ASSERT_EQ(pending.size(), 3u);
  EXPECT_EQ(pending[0].second["n"], 2);
  EXPECT_EQ(pending[1].second["n"], 3);
  EXPECT_EQ(pending[2].second["n"], 5);
}

// One entry never acknowledged while thousands come and go: the writers copy it forward
// rather than keep every segment written after it. The header's bound, 4 segment files +
// 2 × the stored records' bytes / segment_bytes, is 4 here (two records of ~420 bytes
// stored at most, 4 KiB segments).
TEST_F(CommitSpoolTest, AnEntryNeverRemovedDoesNotKeepTheSegmentsAfterIt) {
  constexpr size_t kSegmentBytes = 4096;
  const std::string padding(400, 'x');
  // Writes 1 ms apart at most, not kSyncInterval: each append here waits for its write.
  auto spool = CommitSpool::Open(dir_, CommitSpool::kDefaultMaxEntries, kSegmentBytes,
                                 std::chrono::milliseconds{1});
  ASSERT_TRUE(spool.ok());
  const uint64_t pinned = *(*spool)->Append({{"pinned", padding}});
  size_t most_files = 0;
  std::set<std::string> segments_seen;
  for (int n = 0; n < 2000; ++n) {
    auto appended = (*spool)->Append({{"n", n}, {"padding", padding}});
    ASSERT_TRUE(appended.ok());
    (*spool)->Remove(*appended);
    const std::vector<std::string> segments = FilesEndingIn(".log");
    most_files = std::max(most_files, segments.size());
    segments_seen.insert(segments.begin(), segments.end());
  }
  EXPECT_LE(most_files, 4u);
  // Far more was written than the bound holds: a segment every ~9 appends.
  EXPECT_GT(segments_seen.size(), 100u);
  spool->reset();
  auto reopened = CommitSpool::Open(dir_);
  ASSERT_TRUE(reopened.ok());
  const auto pending = (*reopened)->Pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].first, pinned);
  EXPECT_EQ(pending[0].second["pinned"], padding);
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
  WriteSegment("00000000000000000009.log", "+9 {\"n\":9}\n");
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
