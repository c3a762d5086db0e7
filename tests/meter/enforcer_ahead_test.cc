// The enforcer with reservations asked for ahead (Enforcer::Options::ahead).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string_view>
#include <thread>
#include <vector>

#include "common/thread_priority.h"
#include "meter/enforcer.h"
#include "tests/common/thread_nice.h"
#include "tests/meter/fake_authority.h"

namespace agentbudget::meter {
namespace {

using core::Money;
using testing::AdmitNow;
using testing::FakeAuthority;
using ::agentbudget::testing::NiceOfThreads;

const Money kEstimate = Money::FromMicros(40'000);

// Hands every call to a FakeAuthority that outlives the enforcer, so that a test reads what
// the enforcer did while it stopped.
class Borrowed : public AuthorityClient {
 public:
  explicit Borrowed(FakeAuthority& fake) : fake_(fake) {}
  void Reserve(const ReserveRequest& request, ReserveDone done) override {
    fake_.Reserve(request, std::move(done));
  }
  void ReserveBatch(std::vector<ReserveRequest> requests, ReserveBatchDone done) override {
    fake_.ReserveBatch(std::move(requests), std::move(done));
  }
  Status Commit(const CommitRequest& request) override { return fake_.Commit(request); }
  Status Release(const std::string& id, const std::string& key) override {
    return fake_.Release(id, key);
  }
  Status RecordEvent(const EventRequest& request) override { return fake_.RecordEvent(request); }
  Result<std::vector<Status>> CommitBatch(const std::vector<Write>& writes) override {
    return fake_.CommitBatch(writes);
  }
  Result<ProviderCredentials> FetchCredentials() override { return fake_.FetchCredentials(); }

 private:
  FakeAuthority& fake_;
};

class EnforcerAheadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/enforcer-ahead-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    MutexLock lock(authority_.mu);
    authority_.numbered = true;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Enforcer> Make(ReservationsAhead::Options ahead = {},
                                 size_t spool_entries = CommitSpool::kDefaultMaxEntries) {
    Enforcer::Options options{FailureMode::kClosed, {}, "run-1"};
    options.ahead = ahead;
    return std::make_unique<Enforcer>(std::move(options),
                                      std::make_unique<Borrowed>(authority_),
                                      CommitSpool::Open(dir_, spool_entries).value());
  }

  static Admission Call(Enforcer& enforcer) {
    return AdmitNow(enforcer, "anthropic", "claude-sonnet-4-5", 1, kEstimate, 1000);
  }

  std::vector<ReserveRequest> Reserves() {
    MutexLock lock(authority_.mu);
    return authority_.reserves;
  }
  std::vector<std::string> Releases() {
    MutexLock lock(authority_.mu);
    return authority_.releases;
  }

  std::string dir_;
  FakeAuthority authority_;  // declared after dir_ and before any enforcer: outlives them
};

TEST_F(EnforcerAheadTest, ACallSoonAfterAnotherTakesTheReservationAskedAheadAndCommitsToIt) {
  auto enforcer = Make();
  ASSERT_TRUE(Call(*enforcer).allowed);
  EXPECT_EQ(Reserves().size(), 1u) << "a first call is not followed by one ahead";
  ASSERT_TRUE(Call(*enforcer).allowed);
  // The second call reserved for itself, then one more was asked for ahead.
  auto reserves = Reserves();
  ASSERT_EQ(reserves.size(), 3u);
  EXPECT_EQ(reserves[2].model, "claude-sonnet-4-5");
  EXPECT_EQ(reserves[2].estimate_cost, ReservationsAhead::AheadCost(kEstimate));
  EXPECT_EQ(reserves[2].estimate_tokens, 1250);
  EXPECT_FALSE(reserves[1].ahead);
  EXPECT_TRUE(reserves[2].ahead);

  const Admission third = Call(*enforcer);
  ASSERT_TRUE(third.allowed);
  EXPECT_EQ(third.reservation_id, "r-1-3");
  EXPECT_EQ(third.idempotency_key, reserves[2].idempotency_key);
  EXPECT_EQ(Reserves().size(), 4u) << "the one taken is replaced";

  enforcer->Complete(third, third.model, core::Usage{900, 0, 0, 0, 50, 0},
                     Money::FromMicros(30'000), false);
  ASSERT_TRUE(enforcer->Drain(std::chrono::seconds(10)));
  MutexLock lock(authority_.mu);
  ASSERT_EQ(authority_.commits.size(), 1u);
  EXPECT_EQ(authority_.commits[0].reservation_id, "r-1-3");
  EXPECT_EQ(authority_.commits[0].idempotency_key, reserves[2].idempotency_key + "-commit");
}

TEST_F(EnforcerAheadTest, NothingIsAskedAheadWhileCommitsBackUpInTheSpool) {
  authority_.Fail(&FakeAuthority::commit_error, Unavailable("authority behind"));
  auto enforcer = Make({}, /*spool_entries=*/10);
  for (int i = 0; i < 2; ++i) {
    const Admission admitted = Call(*enforcer);
    ASSERT_TRUE(admitted.allowed);
    enforcer->Complete(admitted, admitted.model, core::Usage{1, 0, 0, 0, 1, 0},
                       Money::FromMicros(1), false);
  }
  ASSERT_EQ(Reserves().size(), 3u) << "the second call was followed by one ahead";
  // Two commits wait, more than a tenth of the spool's 10: the call takes what is held
  // and asks for nothing more.
  EXPECT_EQ(Call(*enforcer).reservation_id, "r-1-3");
  EXPECT_EQ(Reserves().size(), 3u);
}

// Calls for `period`, one about every millisecond: the rate that holds many ahead.
void CallSteadily(Enforcer& enforcer, std::chrono::milliseconds period) {
  const auto end = std::chrono::steady_clock::now() + period;
  while (std::chrono::steady_clock::now() < end) {
    ASSERT_TRUE(AdmitNow(enforcer, "anthropic", "claude-sonnet-4-5", 1, kEstimate, 1000).allowed);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

TEST_F(EnforcerAheadTest, AtAHighRateReservationsAreAskedAheadManyInOneBatch) {
  auto enforcer = Make();
  CallSteadily(*enforcer, std::chrono::milliseconds(300));
  const std::vector<ReserveRequest> reserves = Reserves();
  const size_t ahead = std::count_if(reserves.begin(), reserves.end(),
                                     [](const ReserveRequest& one) { return one.ahead; });
  MutexLock lock(authority_.mu);
  EXPECT_GT(authority_.largest_reserve_batch, 4u);
  EXPECT_LE(authority_.largest_reserve_batch, 32u);
  EXPECT_LT(static_cast<size_t>(authority_.reserve_batches) * 2, ahead)
      << "most batches carry more than two";
}

TEST_F(EnforcerAheadTest, ABatchThatFailsWholeHoldsNothingAndCallsReserveForThemselves) {
  authority_.Fail(&FakeAuthority::reserve_batch_error, Unavailable("authority restarting"));
  auto enforcer = Make();
  Call(*enforcer);
  Call(*enforcer);
  ASSERT_EQ(Reserves().size(), 3u) << "the second call was followed by one asked ahead";
  // Not held; and nothing more is asked ahead for the fresh period.
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Call(*enforcer).reservation_id, "r-1-" + std::to_string(4 + i));
  }
  EXPECT_EQ(Reserves().size(), 8u);
  MutexLock lock(authority_.mu);
  EXPECT_EQ(authority_.reserve_batches, 1);
}

TEST_F(EnforcerAheadTest, ADegradeAskedAheadDegradesTheCallThatTakesIt) {
  authority_.SetReservation({"r-9", Decision::kDegrade, "claude-haiku-4-5", "team at 82%"});
  auto enforcer = Make();
  Call(*enforcer);
  Call(*enforcer);
  const Admission third = Call(*enforcer);
  ASSERT_TRUE(third.allowed);
  EXPECT_EQ(third.reservation_id, "r-9-3");
  EXPECT_TRUE(third.degraded);
  EXPECT_EQ(third.model, "claude-haiku-4-5");
  EXPECT_EQ(third.reason, "team at 82%");
}

TEST_F(EnforcerAheadTest, DeniedCallsAskNothingAhead) {
  authority_.SetReservation({"", Decision::kDeny, "claude-sonnet-4-5", "budget exhausted"});
  auto enforcer = Make();
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(Call(*enforcer).allowed);
  }
  EXPECT_EQ(Reserves().size(), 5u);
}

TEST_F(EnforcerAheadTest, AReservationHeldAheadAndNotUsedInTimeIsReleased) {
  ReservationsAhead::Options ahead;
  ahead.fresh_for = std::chrono::milliseconds(50);
  auto enforcer = Make(ahead);
  Call(*enforcer);
  Call(*enforcer);
  ASSERT_EQ(Reserves().size(), 3u);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Releases().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(Releases(), std::vector<std::string>{"r-1-3"});
  // The next call, reserving for itself, is not given the released one.
  EXPECT_EQ(Call(*enforcer).reservation_id, "r-1-4");
}

TEST_F(EnforcerAheadTest, StoppingReleasesWhatIsHeld) {
  auto enforcer = Make();
  Call(*enforcer);
  Call(*enforcer);
  ASSERT_EQ(Reserves().size(), 3u);
  EXPECT_TRUE(Releases().empty());
  enforcer.reset();
  EXPECT_EQ(Releases(), std::vector<std::string>{"r-1-3"});
}

// What no call waits for runs below the calls' priority (common/thread_priority.h): the
// spool's writer, the commit senders, the releaser of reservations held ahead and the timer
// of the waits for room.
TEST_F(EnforcerAheadTest, ItsBackgroundThreadsRunAtTheBackgroundNice) {
  auto enforcer = Make();
  const size_t senders = Enforcer::Options{}.senders;
  const auto lowered = [](std::string_view name, size_t count) {
    return NiceOfThreads(name) == std::vector<int>(count, kBackgroundNice);
  };
  // Each thread lowers its own priority as it starts.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!(lowered("spool", 1) && lowered("commit-sender", senders) &&
           lowered("ahead-release", 1) && lowered("spool-wait", 1)) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(NiceOfThreads("spool"), std::vector<int>{kBackgroundNice});
  EXPECT_EQ(NiceOfThreads("commit-sender"), std::vector<int>(senders, kBackgroundNice));
  EXPECT_EQ(NiceOfThreads("ahead-release"), std::vector<int>{kBackgroundNice});
  EXPECT_EQ(NiceOfThreads("spool-wait"), std::vector<int>{kBackgroundNice});
}

}  // namespace
}  // namespace agentbudget::meter
