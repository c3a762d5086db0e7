#include "meter/enforcer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "tests/meter/fake_authority.h"

namespace agentbudget::meter {
namespace {

using core::Money;
using testing::AdmitNow;
using testing::FakeAuthority;

bool PollUntil(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) {
      return true;
    }
    std::this_thread::yield();
  }
  return done();
}

class EnforcerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/enforcer-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Enforcer> Make(FakeAuthority* authority, FailureMode mode,
                                 core::EnvelopeLimits limits = {},
                                 std::chrono::milliseconds backoff = std::chrono::milliseconds(1),
                                 std::chrono::milliseconds max_backoff =
                                     std::chrono::milliseconds(5),
                                 size_t max_batch = kMaxBatch,
                                 size_t spool_entries = CommitSpool::kDefaultMaxEntries,
                                 std::chrono::milliseconds spool_wait = {}) {
    std::unique_ptr<AuthorityClient> owned(authority);
    std::unique_ptr<CommitSpool> spool;
    if (authority != nullptr) {
      spool = CommitSpool::Open(dir_, spool_entries).value();
    }
    Enforcer::Options options{mode, limits, "run-1", backoff, max_backoff};
    options.max_batch = max_batch;
    options.spool_wait = spool_wait;
    return std::make_unique<Enforcer>(std::move(options), std::move(owned), std::move(spool));
  }

  // An enforcer of `authority` holding `count` spooled commits the authority refused for
  // now, which it sends in batches of `max_batch`.
  std::unique_ptr<Enforcer> WithBacklog(FakeAuthority* authority, size_t count,
                                        size_t max_batch) {
    authority->Fail(&FakeAuthority::commit_error, Unavailable("authority restarting"));
    auto enforcer = Make(authority, FailureMode::kOpen, {}, std::chrono::milliseconds(1),
                         std::chrono::milliseconds(5), max_batch);
    Call(*enforcer, count);
    return enforcer;
  }

  // Lets `authority` acknowledge commits again, each taking `delay`.
  static void ComeBack(FakeAuthority& authority, std::chrono::milliseconds delay = {}) {
    MutexLock lock(authority.mu);
    authority.commit_error.reset();
    authority.commit_delay = delay;
  }

  // Admits and completes `count` calls of cost 1 each.
  static void Call(Enforcer& enforcer, size_t count) {
    for (size_t i = 1; i <= count; ++i) {
      const Admission a = AdmitNow(enforcer, "openai", "m", i, Money::FromMicros(1), 1);
      ASSERT_TRUE(a.allowed) << a.reason;
      enforcer.Complete(a, "m", core::Usage{1, 0, 0, 0, 0, 0}, Money::FromMicros(1), false);
    }
  }

  std::string dir_;
};

const core::EnvelopeLimits kMaxCost10{Money::FromMicros(10), std::nullopt, std::nullopt,
                                      std::nullopt};

TEST_F(EnforcerTest, LocalModeDeniesPastTheEnvelopeNamingTheCeiling) {
  auto enforcer = Make(nullptr, FailureMode::kOpen, {std::nullopt, std::nullopt, 1, std::nullopt});
  const Admission first = AdmitNow(*enforcer, "anthropic", "m", 1, Money::FromMicros(5), 10);
  ASSERT_TRUE(first.allowed);
  EXPECT_EQ(first.model, "m");
  enforcer->Complete(first, "m", core::Usage{10, 0, 0, 0, 5, 0}, Money::FromMicros(7), false);
  EXPECT_EQ(enforcer->totals().spent, Money::FromMicros(7));
  const Admission second = AdmitNow(*enforcer, "anthropic", "m", 2, Money::FromMicros(5), 10);
  EXPECT_FALSE(second.allowed);
  EXPECT_NE(second.reason.find("maxRequests (1)"), std::string::npos);
}

TEST_F(EnforcerTest, DegradeRewritesTheModelAndCommitsReachTheAuthority) {
  auto* authority = new FakeAuthority;
  authority->SetReservation({"r-9", Decision::kDegrade, "claude-haiku-4-5", "team at 82%"});
  auto enforcer = Make(authority, FailureMode::kOpen);
  const Admission admission =
      AdmitNow(*enforcer, "anthropic", "claude-sonnet-4-5", 1, Money::FromMicros(100), 50);
  ASSERT_TRUE(admission.allowed);
  EXPECT_TRUE(admission.degraded);
  EXPECT_EQ(admission.model, "claude-haiku-4-5");
  EXPECT_EQ(admission.reason, "team at 82%");
  enforcer->Complete(admission, admission.model, core::Usage{1, 0, 0, 0, 2, 0},
                     Money::FromMicros(9), false);
  ASSERT_TRUE(PollUntil([&] { return enforcer->PendingCommits() == 0; }));
  MutexLock lock(authority->mu);
  ASSERT_EQ(authority->commits.size(), 1u);
  EXPECT_EQ(authority->commits[0].reservation_id, "r-9");
  EXPECT_EQ(authority->commits[0].model, "claude-haiku-4-5");
  EXPECT_EQ(authority->commits[0].cost, Money::FromMicros(9));
  EXPECT_EQ(authority->commits[0].idempotency_key, admission.idempotency_key + "-commit");
}

TEST_F(EnforcerTest, AnAuthorityDenialDeniesWithItsReason) {
  auto* authority = new FakeAuthority;
  authority->SetReservation({"", Decision::kDeny, "m", "budget org exhausted"});
  auto enforcer = Make(authority, FailureMode::kOpen);
  const Admission admission = AdmitNow(*enforcer, "openai", "m", 1, Money::FromMicros(100), 50);
  EXPECT_FALSE(admission.allowed);
  EXPECT_EQ(admission.reason, "budget org exhausted");
  EXPECT_EQ(enforcer->totals().reserved, Money());
  // The authority holds nothing for a denial: nothing is released there.
  MutexLock lock(authority->mu);
  EXPECT_TRUE(authority->releases.empty());
}

TEST_F(EnforcerTest, UnreachableAuthorityWithFailureModeOpenAdmitsLocally) {
  auto* authority = new FakeAuthority;
  authority->Fail(&FakeAuthority::reserve_error, Unavailable("connection refused"));
  auto enforcer = Make(authority, FailureMode::kOpen);
  const Admission admission = AdmitNow(*enforcer, "openai", "m", 1, Money::FromMicros(100), 50);
  ASSERT_TRUE(admission.allowed);
  EXPECT_EQ(admission.reservation_id.rfind("local-", 0), 0u);
}

TEST_F(EnforcerTest, UnreachableAuthorityWithFailureModeClosedDenies) {
  auto* authority = new FakeAuthority;
  authority->Fail(&FakeAuthority::reserve_error, Unavailable("connection refused"));
  auto enforcer = Make(authority, FailureMode::kClosed);
  const Admission admission = AdmitNow(*enforcer, "openai", "m", 1, Money::FromMicros(100), 50);
  EXPECT_FALSE(admission.allowed);
  EXPECT_NE(admission.reason.find("failureMode is Closed"), std::string::npos);
}

TEST_F(EnforcerTest, LocalAdmissionsAreCommittedAsEventsWhenTheAuthorityDoesNotKnowThem) {
  auto* authority = new FakeAuthority;
  authority->Fail(&FakeAuthority::reserve_error, Unavailable("down"));
  auto enforcer = Make(authority, FailureMode::kOpen);
  const Admission admission = AdmitNow(*enforcer, "openai", "m", 1, Money::FromMicros(100), 50);
  {
    MutexLock lock(authority->mu);
    authority->commit_error = NotFound("unknown reservation");
  }
  enforcer->Complete(admission, "m", core::Usage{3, 0, 0, 0, 4, 0}, Money::FromMicros(11), true);
  ASSERT_TRUE(PollUntil([&] { return enforcer->PendingCommits() == 0; }));
  MutexLock lock(authority->mu);
  ASSERT_EQ(authority->events.size(), 1u);
  EXPECT_EQ(authority->events[0].cost, Money::FromMicros(11));
  EXPECT_EQ(authority->events[0].tokens, 7);
}

TEST_F(EnforcerTest, UnacknowledgedCommitsSurviveARestartAndAreResentInOrder) {
  {
    auto* authority = new FakeAuthority;
    authority->Fail(&FakeAuthority::commit_error, Unavailable("authority restarting"));
    auto enforcer = Make(authority, FailureMode::kOpen);
    for (int i = 1; i <= 3; ++i) {
      const Admission a = AdmitNow(*enforcer, "openai", "m", i, Money::FromMicros(1), 1);
      enforcer->Complete(a, "m", core::Usage{i, 0, 0, 0, 0, 0}, Money::FromMicros(i), false);
    }
    EXPECT_EQ(enforcer->PendingCommits(), 3u);
  }
  auto* authority = new FakeAuthority;
  auto enforcer = Make(authority, FailureMode::kOpen);
  // The spooled spend counts against the local envelope straight away.
  EXPECT_EQ(enforcer->totals().spent, Money::FromMicros(6));
  ASSERT_TRUE(PollUntil([&] { return authority->CommitCount() == 3; }));
  ASSERT_TRUE(PollUntil([&] { return enforcer->PendingCommits() == 0; }));
  MutexLock lock(authority->mu);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(authority->commits[i].usage.input, i + 1);
  }
  EXPECT_NE(authority->commits[0].idempotency_key, authority->commits[1].idempotency_key);
}

TEST_F(EnforcerTest, DrainSendsWhatIsSpooledAndReportsWhatItCouldNot) {
  auto* authority = new FakeAuthority;
  {
    MutexLock lock(authority->mu);
    authority->commit_error = Unavailable("authority restarting");
  }
  auto enforcer = Make(authority, FailureMode::kOpen);
  const Admission a = AdmitNow(*enforcer, "openai", "m", 1, Money::FromMicros(1), 1);
  enforcer->Complete(a, "m", core::Usage{1, 0, 0, 0, 0, 0}, Money::FromMicros(1), false);
  EXPECT_FALSE(enforcer->Drain(std::chrono::milliseconds(50)));
  EXPECT_EQ(enforcer->PendingCommits(), 1u);
  {
    MutexLock lock(authority->mu);
    authority->commit_error.reset();
  }
  EXPECT_TRUE(enforcer->Drain(std::chrono::seconds(10)));
  EXPECT_EQ(enforcer->PendingCommits(), 0u);
  EXPECT_EQ(authority->CommitCount(), 1u);
}

// A meter terminating after its agent: the authority comes back while the drain runs, long
// before the sender's backoff would have retried.
TEST_F(EnforcerTest, DrainRetriesAtOnceWhenTheAuthorityComesBackDuringIt) {
  auto* authority = new FakeAuthority;  // owned by the enforcer
  authority->Fail(&FakeAuthority::commit_error, Unavailable("authority unreachable"));
  auto enforcer = Make(authority, FailureMode::kOpen, {}, std::chrono::minutes(10),
                       std::chrono::minutes(10));
  const Admission a = AdmitNow(*enforcer, "openai", "m", 1, Money::FromMicros(7), 3);
  enforcer->Complete(a, "m", core::Usage{3, 0, 0, 0, 0, 0}, Money::FromMicros(7), false);
  const auto attempts = [authority] {
    MutexLock lock(authority->mu);
    return authority->commit_attempts;
  };
  ASSERT_TRUE(PollUntil([&] { return attempts() >= 1; }));
  // The sender now waits out its 10-minute backoff; the drain's first wake-up fails too.
  std::thread comes_back([&] {
    PollUntil([&] { return attempts() >= 2; });
    MutexLock lock(authority->mu);
    authority->commit_error.reset();
  });
  const bool drained = enforcer->Drain(std::chrono::seconds(20));
  comes_back.join();
  EXPECT_TRUE(drained);
  EXPECT_EQ(authority->CommitCount(), 1u);
  EXPECT_TRUE(enforcer->Unsent().idempotency_keys.empty());
}

TEST_F(EnforcerTest, UnsentNamesTheSpooledCommitsAndTheirSpend) {
  auto* authority = new FakeAuthority;  // owned by the enforcer
  authority->Fail(&FakeAuthority::commit_error, Unavailable("authority unreachable"));
  auto enforcer = Make(authority, FailureMode::kOpen);
  const Admission a = AdmitNow(*enforcer, "openai", "m", 1, Money::FromMicros(7), 3);
  enforcer->Complete(a, "m", core::Usage{3, 0, 0, 0, 0, 0}, Money::FromMicros(7), false);
  const Admission b = AdmitNow(*enforcer, "openai", "m", 2, Money::FromMicros(5), 4);
  enforcer->Complete(b, "m", core::Usage{2, 0, 0, 0, 2, 0}, Money::FromMicros(5), false);
  EXPECT_FALSE(enforcer->Drain(std::chrono::milliseconds(300)));
  const UnsentEntries unsent = enforcer->Unsent();
  EXPECT_EQ(unsent.idempotency_keys,
            (std::vector<std::string>{a.idempotency_key + "-commit",
                                      b.idempotency_key + "-commit"}));
  EXPECT_EQ(unsent.cost, Money::FromMicros(12));
  EXPECT_EQ(unsent.tokens, 7);
}

TEST_F(EnforcerTest, StoppingWhileSendingLeavesTheRestSpooledForTheNextStart) {
  constexpr size_t kCommits = 40;
  {
    auto* authority = new FakeAuthority;  // owned by the enforcer
    // Batches of 2: the 4 senders have at most 8 entries in flight when told to stop.
    auto enforcer = WithBacklog(authority, kCommits, 2);
    ComeBack(*authority, std::chrono::milliseconds(50));
    ASSERT_TRUE(PollUntil([&] { return authority->CommitCount() >= 1; }));
    enforcer.reset();  // stops the senders mid-spool, as the meter's shutdown does
  }
  // The senders stopped instead of sending the whole spool first; the acknowledged entries
  // left the spool, the rest is sent by the next start.
  auto* authority = new FakeAuthority;
  authority->Fail(&FakeAuthority::commit_error, Unavailable("authority restarting"));
  auto enforcer = Make(authority, FailureMode::kOpen);
  const size_t left = enforcer->PendingCommits();
  EXPECT_GT(left, 0u);
  EXPECT_LT(left, kCommits);
  {
    MutexLock lock(authority->mu);
    authority->commit_error.reset();
  }
  EXPECT_TRUE(enforcer->Drain(std::chrono::seconds(10)));
  EXPECT_EQ(authority->CommitCount(), left);
}

// A backlog goes out in batches of at most max_batch, each entry once.
TEST_F(EnforcerTest, ABacklogIsSentInBatches) {
  constexpr size_t kCommits = 100;
  auto* authority = new FakeAuthority;  // owned by the enforcer
  auto enforcer = WithBacklog(authority, kCommits, 16);
  ComeBack(*authority);
  ASSERT_TRUE(enforcer->Drain(std::chrono::seconds(10)));
  MutexLock lock(authority->mu);
  ASSERT_EQ(authority->commits.size(), kCommits);
  std::set<std::string> keys;
  for (const CommitRequest& commit : authority->commits) {
    keys.insert(commit.idempotency_key);
  }
  EXPECT_EQ(keys.size(), kCommits);
  EXPECT_GT(authority->largest_batch, 1u);
  EXPECT_LE(authority->largest_batch, 16u);
}

TEST_F(EnforcerTest, AnAuthorityWithoutTheBatchEndpointGetsEachEntryOnItsOwn) {
  auto* authority = new FakeAuthority;  // owned by the enforcer
  authority->Fail(&FakeAuthority::batch_error, NotFound("no such endpoint: POST /v1/batch"));
  auto enforcer = Make(authority, FailureMode::kOpen);
  Call(*enforcer, 3);
  ASSERT_TRUE(enforcer->Drain(std::chrono::seconds(10)));
  MutexLock lock(authority->mu);
  EXPECT_EQ(authority->commits.size(), 3u);
  EXPECT_GE(authority->batches, 1);
}

TEST_F(EnforcerTest, AFullSpoolDeniesCallsUntilTheAuthorityAcknowledges) {
  auto* authority = new FakeAuthority;  // owned by the enforcer
  authority->Fail(&FakeAuthority::commit_error, Unavailable("authority unreachable"));
  auto enforcer = Make(authority, FailureMode::kOpen, {}, std::chrono::milliseconds(1),
                       std::chrono::milliseconds(5), kMaxBatch, 3);
  Call(*enforcer, 3);
  const Admission denied = AdmitNow(*enforcer, "openai", "m", 4, Money::FromMicros(1), 1);
  EXPECT_FALSE(denied.allowed);
  EXPECT_NE(denied.reason.find("commit spool full: 3 commits"), std::string::npos)
      << denied.reason;
  ComeBack(*authority);
  ASSERT_TRUE(enforcer->Drain(std::chrono::seconds(10)));
  EXPECT_TRUE(AdmitNow(*enforcer, "openai", "m", 5, Money::FromMicros(1), 1).allowed);
  EXPECT_EQ(authority->CommitCount(), 3u);
}

TEST_F(EnforcerTest, ACommitTheFullSpoolCannotHoldIsSentBySenderAndHoldsItsRoom) {
  auto* authority = new FakeAuthority;  // owned by the enforcer
  ComeBack(*authority, std::chrono::seconds(2));
  auto enforcer = Make(authority, FailureMode::kOpen, {}, std::chrono::milliseconds(1),
                       std::chrono::milliseconds(5), kMaxBatch, 1);
  // Both admitted while the spool (of one entry) is empty; the second commit finds it full.
  const Admission first = AdmitNow(*enforcer, "openai", "m", 1, Money::FromMicros(1), 1);
  const Admission second = AdmitNow(*enforcer, "openai", "m", 2, Money::FromMicros(1), 1);
  ASSERT_TRUE(first.allowed && second.allowed);
  enforcer->Complete(first, "m", core::Usage{1, 0, 0, 0, 0, 0}, Money::FromMicros(1), false);
  ASSERT_TRUE(PollUntil([&] { return enforcer->PendingCommits() == 1; }));
  enforcer->Complete(second, "m", core::Usage{1, 0, 0, 0, 0, 0}, Money::FromMicros(1), false);
  // Complete returned before the authority took either: the second waits for a sender.
  EXPECT_EQ(authority->CommitCount(), 0u);
  // Until it is sent it takes the spool's room: a third call is denied.
  const Admission third = AdmitNow(*enforcer, "openai", "m", 3, Money::FromMicros(1), 1);
  EXPECT_FALSE(third.allowed);
  EXPECT_NE(third.reason.find("commit spool full: 1 commits"), std::string::npos)
      << third.reason;
  ASSERT_TRUE(PollUntil([&] { return authority->CommitCount() == 2; }));
  ASSERT_TRUE(enforcer->Drain(std::chrono::seconds(10)));
  EXPECT_TRUE(AdmitNow(*enforcer, "openai", "m", 4, Money::FromMicros(1), 1).allowed);
}

TEST_F(EnforcerTest, ACallFindingTheSpoolFullWaitsForRoomAndGoesOnOnceThereIs) {
  auto* authority = new FakeAuthority;  // owned by the enforcer
  authority->Fail(&FakeAuthority::commit_error, Unavailable("authority unreachable"));
  auto enforcer = Make(authority, FailureMode::kOpen, {}, std::chrono::milliseconds(1),
                       std::chrono::milliseconds(5), kMaxBatch, 3, std::chrono::minutes(5));
  Call(*enforcer, 3);
  std::promise<Admission> waited;
  enforcer->Admit("openai", "m", 4, Money::FromMicros(1), 1,
                  [&waited](Admission admission) { waited.set_value(std::move(admission)); });
  auto answer = waited.get_future();
  // Still waiting while the authority refuses every commit.
  EXPECT_EQ(answer.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  ComeBack(*authority);
  const Admission admitted = answer.get();
  EXPECT_TRUE(admitted.allowed) << admitted.reason;
}

// Calls from several threads at once keep a spool of two entries full while the authority
// acknowledges at once: a call that finds it full just as the senders empty it must not be
// left waiting with no batch to come that would resume it.
TEST_F(EnforcerTest, CallsFindingTheSpoolFullAsItEmptiesAreNeverLeftWaiting) {
  auto* authority = new FakeAuthority;  // owned by the enforcer
  auto enforcer = Make(authority, FailureMode::kOpen, {}, std::chrono::milliseconds(1),
                       std::chrono::milliseconds(5), kMaxBatch, 2, std::chrono::minutes(5));
  constexpr size_t kThreads = 4;
  constexpr size_t kCalls = 100;
  std::atomic<size_t> stuck{0};
  std::vector<std::thread> threads;
  for (size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = 0; i < kCalls; ++i) {
        auto answered = std::make_shared<std::promise<Admission>>();
        auto answer = answered->get_future();
        enforcer->Admit("openai", "m", t * kCalls + i, Money::FromMicros(1), 1,
                        [answered](Admission a) { answered->set_value(std::move(a)); });
        // Far longer than a batch takes; a call left waiting never answers before the
        // wait of 5 minutes ends.
        if (answer.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
          stuck.fetch_add(1);
          return;
        }
        const Admission admitted = answer.get();
        ASSERT_TRUE(admitted.allowed) << admitted.reason;
        enforcer->Complete(admitted, "m", core::Usage{1, 0, 0, 0, 0, 0}, Money::FromMicros(1),
                           false);
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(stuck.load(), 0u);
  ASSERT_TRUE(enforcer->Drain(std::chrono::seconds(10)));
  EXPECT_EQ(authority->CommitCount(), kThreads * kCalls - stuck.load());
}

TEST_F(EnforcerTest, CallsWaitingForRoomAreDeniedWhenTheirWaitEnds) {
  auto* authority = new FakeAuthority;  // owned by the enforcer
  authority->Fail(&FakeAuthority::commit_error, Unavailable("authority unreachable"));
  auto enforcer = Make(authority, FailureMode::kOpen, {}, std::chrono::milliseconds(1),
                       std::chrono::milliseconds(5), kMaxBatch, 3, std::chrono::milliseconds(50));
  Call(*enforcer, 3);
  const Admission denied = AdmitNow(*enforcer, "openai", "m", 4, Money::FromMicros(1), 1);
  EXPECT_FALSE(denied.allowed);
  EXPECT_NE(denied.reason.find("commit spool full: 3 commits"), std::string::npos)
      << denied.reason;
}

TEST_F(EnforcerTest, AWaitForRoomEndsOnTimeWhileTheAuthorityHoldsTheBatch) {
  auto* authority = new FakeAuthority;  // owned by the enforcer
  {
    MutexLock lock(authority->mu);
    authority->commit_delay = std::chrono::seconds(4);
  }
  auto enforcer = Make(authority, FailureMode::kOpen, {}, std::chrono::milliseconds(1),
                       std::chrono::milliseconds(5), kMaxBatch, 1, std::chrono::milliseconds(50));
  Call(*enforcer, 1);  // its commit fills the spool; the batch that sends it takes 4 s
  const Admission denied = AdmitNow(*enforcer, "openai", "m", 2, Money::FromMicros(1), 1);
  EXPECT_FALSE(denied.allowed);
  EXPECT_NE(denied.reason.find("commit spool full: 1 commits"), std::string::npos)
      << denied.reason;
  MutexLock lock(authority->mu);
  EXPECT_EQ(authority->commit_attempts, 0) << "denied only once the batch ended";
}

TEST_F(EnforcerTest, AtMostMaxWaitingCallsWaitForRoomAndStoppingDeniesThem) {
  auto* authority = new FakeAuthority;  // owned by the enforcer
  authority->Fail(&FakeAuthority::commit_error, Unavailable("authority unreachable"));
  std::unique_ptr<CommitSpool> spool = CommitSpool::Open(dir_, 1).value();
  Enforcer::Options options{FailureMode::kOpen, {}, "run-1"};
  options.spool_wait = std::chrono::minutes(5);
  options.max_waiting = 2;
  auto enforcer = std::make_unique<Enforcer>(
      std::move(options), std::unique_ptr<AuthorityClient>(authority), std::move(spool));
  Call(*enforcer, 1);
  std::vector<std::promise<Admission>> answers(3);
  for (size_t i = 0; i < answers.size(); ++i) {
    enforcer->Admit("openai", "m", 10 + i, Money::FromMicros(1), 1,
                    [&answers, i](Admission admission) { answers[i].set_value(admission); });
  }
  // The third finds two waiting already: denied at once.
  auto third = answers[2].get_future();
  ASSERT_EQ(third.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_FALSE(third.get().allowed);
  auto first = answers[0].get_future();
  auto second = answers[1].get_future();
  EXPECT_EQ(first.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  enforcer.reset();
  EXPECT_FALSE(first.get().allowed);
  const Admission last = second.get();
  EXPECT_FALSE(last.allowed);
  EXPECT_NE(last.reason.find("commit spool full: 1 commits"), std::string::npos) << last.reason;
}

TEST_F(EnforcerTest, ALocalMaxCostDenialIsReportedToTheAuthorityOnce) {
  auto* authority = new FakeAuthority;
  auto enforcer = Make(authority, FailureMode::kOpen, kMaxCost10);
  Admission first;
  for (int i = 1; i <= 3; ++i) {
    const Admission denied = AdmitNow(*enforcer, "anthropic", "m", i, Money::FromMicros(100), 5);
    ASSERT_FALSE(denied.allowed);
    if (i == 1) {
      first = denied;
    }
  }
  ASSERT_TRUE(enforcer->Drain(std::chrono::seconds(10)));
  MutexLock lock(authority->mu);
  EXPECT_TRUE(authority->reserves.empty());
  ASSERT_EQ(authority->events.size(), 1u);
  EXPECT_EQ(authority->events[0].kind, "ceiling:maxCost");
  EXPECT_EQ(authority->events[0].cost, Money());
  EXPECT_EQ(authority->events[0].tokens, 0);
  EXPECT_EQ(authority->events[0].description, first.reason);
  EXPECT_EQ(authority->events[0].idempotency_key, first.idempotency_key + "-ceiling");
}

TEST_F(EnforcerTest, ALocalMaxTokensDenialIsReportedAsCeilingMaxTokens) {
  auto* authority = new FakeAuthority;
  auto enforcer =
      Make(authority, FailureMode::kOpen, {std::nullopt, 10, std::nullopt, std::nullopt});
  EXPECT_FALSE(AdmitNow(*enforcer, "openai", "m", 1, Money::FromMicros(1), 50).allowed);
  ASSERT_TRUE(enforcer->Drain(std::chrono::seconds(10)));
  MutexLock lock(authority->mu);
  ASSERT_EQ(authority->events.size(), 1u);
  EXPECT_EQ(authority->events[0].kind, "ceiling:maxTokens");
}

TEST_F(EnforcerTest, AMaxRequestsDenialIsNotReported) {
  auto* authority = new FakeAuthority;
  auto enforcer =
      Make(authority, FailureMode::kOpen, {std::nullopt, std::nullopt, 1, std::nullopt});
  const Admission admitted = AdmitNow(*enforcer, "openai", "m", 1, Money::FromMicros(1), 1);
  ASSERT_TRUE(admitted.allowed);
  enforcer->Abandon(admitted);
  const Admission denied = AdmitNow(*enforcer, "openai", "m", 2, Money::FromMicros(1), 1);
  ASSERT_FALSE(denied.allowed);
  EXPECT_NE(denied.reason.find("maxRequests"), std::string::npos);
  EXPECT_EQ(enforcer->PendingCommits(), 0u);
  ASSERT_TRUE(enforcer->Drain(std::chrono::seconds(10)));
  MutexLock lock(authority->mu);
  EXPECT_TRUE(authority->events.empty());
}

TEST_F(EnforcerTest, ADenialByTheAuthorityIsNotReportedBack) {
  auto* authority = new FakeAuthority;
  authority->SetReservation({"", Decision::kDeny, "m", "run ceiling maxCost ($1) reached"});
  auto enforcer = Make(authority, FailureMode::kOpen);
  ASSERT_FALSE(AdmitNow(*enforcer, "openai", "m", 1, Money::FromMicros(100), 50).allowed);
  EXPECT_EQ(enforcer->PendingCommits(), 0u);
  ASSERT_TRUE(enforcer->Drain(std::chrono::seconds(10)));
  MutexLock lock(authority->mu);
  EXPECT_TRUE(authority->events.empty());
}

TEST_F(EnforcerTest, ACeilingReportIsSentOnceTheAuthorityComesBack) {
  auto* authority = new FakeAuthority;
  authority->Fail(&FakeAuthority::event_error, Unavailable("authority restarting"));
  auto enforcer = Make(authority, FailureMode::kOpen, kMaxCost10);
  ASSERT_FALSE(AdmitNow(*enforcer, "openai", "m", 1, Money::FromMicros(100), 50).allowed);
  EXPECT_FALSE(enforcer->Drain(std::chrono::milliseconds(50)));
  EXPECT_EQ(enforcer->PendingCommits(), 1u);
  {
    MutexLock lock(authority->mu);
    EXPECT_TRUE(authority->events.empty());
    authority->event_error.reset();
  }
  ASSERT_TRUE(enforcer->Drain(std::chrono::seconds(10)));
  MutexLock lock(authority->mu);
  ASSERT_EQ(authority->events.size(), 1u);
  EXPECT_EQ(authority->events[0].kind, "ceiling:maxCost");
}

TEST_F(EnforcerTest, ARestartedEnforcerSendsASpooledCeilingReportOnce) {
  std::string key;
  {
    auto* authority = new FakeAuthority;
    authority->Fail(&FakeAuthority::event_error, Unavailable("authority restarting"));
    auto enforcer = Make(authority, FailureMode::kOpen, kMaxCost10);
    const Admission denied = AdmitNow(*enforcer, "openai", "m", 1, Money::FromMicros(100), 50);
    ASSERT_FALSE(denied.allowed);
    key = denied.idempotency_key + "-ceiling";
    EXPECT_EQ(enforcer->PendingCommits(), 1u);
  }
  auto* authority = new FakeAuthority;
  auto enforcer = Make(authority, FailureMode::kOpen, kMaxCost10);
  // A report is not spend.
  EXPECT_EQ(enforcer->totals().spent, Money());
  // The spooled report stands for this process too: a new denial adds none.
  ASSERT_FALSE(AdmitNow(*enforcer, "openai", "m", 2, Money::FromMicros(100), 50).allowed);
  ASSERT_TRUE(enforcer->Drain(std::chrono::seconds(10)));
  MutexLock lock(authority->mu);
  ASSERT_EQ(authority->events.size(), 1u);
  EXPECT_EQ(authority->events[0].kind, "ceiling:maxCost");
  EXPECT_EQ(authority->events[0].idempotency_key, key);
}

}  // namespace
}  // namespace agentbudget::meter
