#include "operator/authority/ledger.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <set>
#include <thread>

#include "tests/authority/fake_clock.h"
#include "tests/authority/ledger_test_support.h"

namespace agentbudget::authority {
namespace {

using nlohmann::json;
using std::chrono::hours;
using std::chrono::seconds;

// 2026-11-27 12:00:00 UTC.
const std::chrono::system_clock::time_point kNoon{seconds{1'795'780'800}};

class LedgerTest : public ::testing::Test {
 protected:
  LedgerTest() { Restart(); }

  void Restart() {
    ledger_.reset();
    ledger_ = std::make_unique<Ledger>(clock_, store_, TestRates(), Ledger::Options{},
                                       GroupCommitter::Options{std::chrono::milliseconds{5}, 100});
    ledger_->UpsertBudget(MakeBudget("org", {{"limit", {{"amount", "1000"}}}}));
    ledger_->UpsertBudget(MakeBudget(
        "payments", {{"limit", {{"amount", "10"}}},
                     {"selector", {{"matchLabels", {{"team", "payments"}}}}},
                     {"period", "Day"}}));
    ledger_->UpsertBudget(MakeBudget(
        "search", {{"limit", {{"amount", "10"}}}, {"selector", {{"matchLabels", {{"team", "search"}}}}}}));
    ledger_->UpsertBudget(MakeBudget(
        "per-user", {{"limit", {{"amount", "5"}}}, {"perKey", "user"}, {"pressure", {{"degradeAt", 100}, {"queueAt", 100}}}}));
  }

  BudgetSnapshot Budget(const std::string& name) {
    for (auto& snapshot : ledger_->Budgets()) {
      if (snapshot.name == name) {
        return snapshot;
      }
    }
    ADD_FAILURE() << "no budget " << name;
    return {};
  }

  std::string ReserveOk(const Caller& caller, const std::string& key, int64_t micros) {
    auto answer = ledger_->Reserve(caller, Reservation(key, micros));
    EXPECT_TRUE(answer.ok());
    EXPECT_EQ((*answer)["decision"], "allow") << answer->dump();
    return (*answer)["id"].get<std::string>();
  }

  FakeClock clock_{kNoon};
  InMemoryLedgerStore store_;
  std::unique_ptr<Ledger> ledger_;
  Caller alice_ = MakeCaller("run-a", "payments", "alice");
};

TEST_F(LedgerTest, AllowedReservationHoldsItsEstimateOnEveryMatchingBudget) {
  ReserveOk(alice_, "k1", 2'000'000);
  EXPECT_EQ(Budget("org").reserved, 2'000'000);
  EXPECT_EQ(Budget("payments").reserved, 2'000'000);
  EXPECT_EQ(Budget("per-user").reserved, 2'000'000);
  EXPECT_EQ(Budget("search").reserved, 0);
}

TEST_F(LedgerTest, CommitChargesActualCostToEveryMatchingBudgetAndReleasesTheRest) {
  const std::string id = ReserveOk(alice_, "k1", 2'000'000);
  auto ack = CommitAndWait(*ledger_, alice_, id, Commitment("c1", 1'500'000));
  ASSERT_TRUE(ack.ok()) << ack.error().ToString();
  EXPECT_EQ((*ack)["cost"], "1.5");
  for (const char* name : {"org", "payments", "per-user"}) {
    EXPECT_EQ(Budget(name).spent, 1'500'000) << name;
    EXPECT_EQ(Budget(name).reserved, 0) << name;
  }
  EXPECT_EQ(Budget("search").spent, 0);
}

TEST_F(LedgerTest, PerKeyEnvelopesCapEachUserSeparately) {
  const std::string id = ReserveOk(alice_, "k1", 4'000'000);
  ASSERT_TRUE(CommitAndWait(*ledger_, alice_, id, Commitment("c1", 4'000'000)).ok());
  auto denied = ledger_->Reserve(alice_, Reservation("k2", 2'000'000));
  EXPECT_EQ((*denied)["decision"], "deny");
  EXPECT_NE((*denied)["reason"].get<std::string>().find("per-user (user=alice)"), std::string::npos);
  ReserveOk(MakeCaller("run-b", "payments", "bob"), "k2", 2'000'000);
}

TEST_F(LedgerTest, RunEnvelopeIsPartOfTheSameDecision) {
  alice_.run_limits.max_cost = core::Money::FromMicros(1'000'000);
  ReserveOk(alice_, "k1", 600'000);
  auto denied = ledger_->Reserve(alice_, Reservation("k2", 600'000));
  EXPECT_EQ((*denied)["decision"], "deny");
  EXPECT_NE((*denied)["reason"].get<std::string>().find("maxCost"), std::string::npos);
  // A denial holds nothing.
  EXPECT_EQ(Budget("org").reserved, 600'000);
}

TEST_F(LedgerTest, AMoneyCeilingDenialIsRememberedForTheRun) {
  alice_.run_limits.max_cost = core::Money::FromMicros(1'000'000);
  alice_.run_limits.max_requests = 1;
  EXPECT_EQ(ledger_->Run("run-a").ceiling, "");
  ReserveOk(alice_, "k1", 600'000);
  // maxRequests denies first: a request count does not end runs.
  ASSERT_EQ((*ledger_->Reserve(alice_, Reservation("k2", 600'000)))["decision"], "deny");
  EXPECT_EQ(ledger_->Run("run-a").ceiling, "");
  Caller bob = MakeCaller("run-b", "payments", "bob");
  bob.run_limits.max_cost = core::Money::FromMicros(1'000'000);
  ReserveOk(bob, "k1", 600'000);
  ASSERT_EQ((*ledger_->Reserve(bob, Reservation("k2", 600'000)))["decision"], "deny");
  const RunSummary run = ledger_->Run("run-b");
  EXPECT_EQ(run.ceiling, "maxCost");
  EXPECT_EQ(run.totals.reserved.micros(), 600'000);
  EXPECT_EQ((*ledger_->RunBalance(bob, "run-b"))["ceilingReached"], "maxCost");
}

TEST_F(LedgerTest, ADenialOfAReservationAskedAheadMarksNoCeiling) {
  alice_.run_limits.max_cost = core::Money::FromMicros(1'000'000);
  ReserveOk(alice_, "k1", 600'000);
  ReserveRequest ahead = Reservation("k2", 600'000);
  ahead.ahead = true;
  ASSERT_EQ((*ledger_->Reserve(alice_, ahead))["decision"], "deny");
  EXPECT_EQ(ledger_->Run("run-a").ceiling, "") << "no call was denied";
  // The call itself, denied for the same ceiling, marks it.
  ASSERT_EQ((*ledger_->Reserve(alice_, Reservation("k3", 600'000)))["decision"], "deny");
  EXPECT_EQ(ledger_->Run("run-a").ceiling, "maxCost");
}

TEST_F(LedgerTest, AReleasedReservationIsACallNeverMadeAndCountsNoRequest) {
  alice_.run_limits.max_requests = 2;
  for (int i = 0; i < 5; ++i) {
    const std::string key = "k" + std::to_string(i);
    const std::string id = ReserveOk(alice_, key, 1000);
    ASSERT_TRUE(ledger_->Release(alice_, id, {key + "-release", 1}).ok());
  }
  EXPECT_EQ(ledger_->Run("run-a").totals.requests, 0);
  // A commit of a released reservation is a call made after all: it counts again.
  const std::string released = ReserveOk(alice_, "k-late", 1000);
  ASSERT_TRUE(ledger_->Release(alice_, released, {"k-late-release", 1}).ok());
  ASSERT_TRUE(CommitAndWait(*ledger_, alice_, released, Commitment("c-late", 900)).ok());
  EXPECT_EQ(ledger_->Run("run-a").totals.requests, 1);
  EXPECT_EQ((*ledger_->Reserve(alice_, Reservation("k7", 1000)))["decision"], "allow");
  EXPECT_EQ((*ledger_->Reserve(alice_, Reservation("k8", 1000)))["decision"], "deny");
}

TEST_F(LedgerTest, AMetersCeilingReportIsDurableAndNoSpend) {
  auto report = [&](const std::string& key, const std::string& kind) {
    auto promise = std::make_shared<std::promise<Result<json>>>();
    auto future = promise->get_future();
    ledger_->RecordEvent(alice_, {key, kind, 0, 0, 3},
                         [promise](Result<json> result) { promise->set_value(std::move(result)); });
    ASSERT_EQ(future.wait_for(seconds{5}), std::future_status::ready);
    ASSERT_TRUE(future.get().ok());
  };
  report("e0", "ceiling:maxRequests");  // not a ceiling that ends runs
  EXPECT_EQ(ledger_->Run("run-a").ceiling, "");
  report("e1", "ceiling:maxTokens");
  report("e2", "ceiling:maxCost");  // the first is kept
  EXPECT_EQ(ledger_->Run("run-a").ceiling, "maxTokens");
  EXPECT_TRUE(ledger_->spend().empty());
  EXPECT_EQ(Budget("org").spent, 0);
  Restart();
  ledger_->Recover(store_.Load().value());
  EXPECT_EQ(ledger_->Run("run-a").ceiling, "maxTokens");
  // Recovered runs keep it once seen again.
  ReserveOk(alice_, "k1", 1'000);
  EXPECT_EQ(ledger_->Run("run-a").ceiling, "maxTokens");
}

TEST_F(LedgerTest, WorkloadSpendCountsThisMonthsCallsByModelAcrossARestart) {
  const std::string id = ReserveOk(alice_, "k1", 100'000);
  ASSERT_TRUE(CommitAndWait(*ledger_, alice_, id, Commitment("c1", 40'000)).ok());
  const std::string id2 = ReserveOk(alice_, "k2", 100'000);
  CommitRequest cheap = Commitment("c2", 10'000);
  cheap.model = "claude-haiku-4-5";
  ASSERT_TRUE(CommitAndWait(*ledger_, alice_, id2, cheap).ok());
  // The admission queue's report of how the run ended.
  auto promise = std::make_shared<std::promise<Result<json>>>();
  auto future = promise->get_future();
  ledger_->RecordEvent(alice_, {"outcome-run-a", std::string(kOutcomeReport) + "Succeeded", 0, 0, 5},
                       [promise](Result<json> result) { promise->set_value(std::move(result)); });
  ASSERT_EQ(future.wait_for(seconds{5}), std::future_status::ready);
  ASSERT_TRUE(future.get().ok());
  auto check = [&] {
    const auto spends = ledger_->WorkloadSpends();
    ASSERT_EQ(spends.size(), 1U);
    const WorkloadSpend& spend = spends.at("agents/review");
    EXPECT_EQ(spend.cost_micros, 50'000);
    EXPECT_EQ(spend.calls(), 2);
    EXPECT_EQ(spend.calls_by_model.at("claude-haiku-4-5"), 1);
    EXPECT_EQ(spend.ended.succeeded, 1);
    EXPECT_EQ(spend.Outcomes().spend_micros, 50'000);
  };
  check();
  Restart();
  ledger_->Recover(store_.Load().value());
  check();
  // Next month the workload starts from nothing.
  clock_.Advance(hours{24 * 5});
  EXPECT_TRUE(ledger_->WorkloadSpends().empty());
}

TEST_F(LedgerTest, DegradedReservationAnswersWithTheNextFallbackModel) {
  ledger_->UpsertBudget(MakeBudget("tight", {{"limit", {{"amount", "5"}}}}));
  const std::string id = ReserveOk(alice_, "k1", 4'100'000);
  ASSERT_TRUE(CommitAndWait(*ledger_, alice_, id, Commitment("c1", 4'100'000)).ok());
  // tight is at 82% (degradeAt 80); payments at 41%; per-user never degrades.
  auto answer = ledger_->Reserve(alice_, Reservation("k2", 100'000));
  EXPECT_EQ((*answer)["decision"], "degrade");
  EXPECT_EQ((*answer)["model"], "claude-haiku-4-5");
  EXPECT_NE((*answer)["reason"].get<std::string>().find("budget tight at 82%"), std::string::npos);
}

TEST_F(LedgerTest, CommitIsAcknowledgedOnlyOnceDurable) {
  const std::string id = ReserveOk(alice_, "k1", 1'000'000);
  store_.FailNextAppends(3);
  auto ack = CommitAndWait(*ledger_, alice_, id, Commitment("c1", 1'000'000));
  ASSERT_TRUE(ack.ok());
  auto stored = store_.Load();
  ASSERT_EQ(stored->size(), 1U);
  EXPECT_EQ((*stored)[0].idempotency_key, "c1");
  EXPECT_EQ(store_.appends(), 1);
}

// The bound on what waits for a store that does not write: Options::max_pending_commits.
TEST_F(LedgerTest, CommitsBeyondTheWaitingLimitAreUnavailableAndCountNothing) {
  Ledger::Options options;
  options.max_pending_commits = 10;
  store_.FailNextAppends(1'000'000);  // the store is down
  std::atomic<int> refused{0};  // outlives the ledger, whose last replies run as it goes
  Ledger ledger(clock_, store_, TestRates(), options,
                GroupCommitter::Options{std::chrono::milliseconds{5}, 100});
  ledger.UpsertBudget(MakeBudget("org", {{"limit", {{"amount", "1000"}}}}));
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) {
    auto reserved = ledger.Reserve(alice_, Reservation("k" + std::to_string(i), 1'000));
    ASSERT_TRUE(reserved.ok());
    ids.push_back((*reserved)["id"]);
  }
  for (int i = 0; i < 25; ++i) {
    ledger.Commit(alice_, ids[static_cast<size_t>(i)], Commitment("c" + std::to_string(i), 1'000),
                  [&refused](const Result<nlohmann::json>& answer) {
                    // Refusals are answered at once, on this thread.
                    if (!answer.ok() && answer.error().code == ErrorCode::kUnavailable) {
                      ++refused;
                    }
                  });
  }
  EXPECT_EQ(refused, 15);
  EXPECT_EQ(ledger.pending_commits(), 10U);
  EXPECT_EQ(ledger.Budgets().front().spent, 10'000);  // only the commits that wait
  EXPECT_EQ(ledger.stats().commits, 10);

  store_.FailNextAppends(0);  // the store is back: the resend of a refused commit counts
  const auto deadline = std::chrono::steady_clock::now() + seconds{5};
  while (ledger.pending_commits() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  auto resent = CommitAndWait(ledger, alice_, ids[24], Commitment("c24", 1'000));
  ASSERT_TRUE(resent.ok()) << resent.error().message;
  EXPECT_EQ(ledger.Budgets().front().spent, 11'000);
  EXPECT_EQ(ledger.pending_commits(), 0U);
}

TEST_F(LedgerTest, ReplayedCommitReturnsTheFirstAnswerAndCountsOnce) {
  const std::string id = ReserveOk(alice_, "k1", 1'000'000);
  auto first = CommitAndWait(*ledger_, alice_, id, Commitment("c1", 700'000));
  auto second = CommitAndWait(*ledger_, alice_, id, Commitment("c1", 700'000));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(Budget("org").spent, 700'000);
  EXPECT_EQ(store_.Load()->size(), 1U);
}

TEST_F(LedgerTest, ReusedKeyWithADifferentBodyIsAConflict) {
  const std::string id = ReserveOk(alice_, "k1", 1'000'000);
  ASSERT_TRUE(CommitAndWait(*ledger_, alice_, id, Commitment("c1", 700'000)).ok());
  auto conflict = CommitAndWait(*ledger_, alice_, id, Commitment("c1", 800'000));
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, ErrorCode::kConflict);
  auto reserve_conflict = ledger_->Reserve(alice_, Reservation("k1", 5));
  EXPECT_EQ(reserve_conflict.error().code, ErrorCode::kConflict);
}

TEST_F(LedgerTest, ReplayedReservationReturnsTheFirstAnswerWithoutHoldingTwice) {
  auto first = ledger_->Reserve(alice_, Reservation("k1", 1'000'000));
  auto second = ledger_->Reserve(alice_, Reservation("k1", 1'000'000));
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(Budget("org").reserved, 1'000'000);
}

TEST_F(LedgerTest, ExpiredReservationIsReleasedAndItsLateCommitStillRecorded) {
  const std::string id = ReserveOk(alice_, "k1", 1'000'000);
  clock_.Advance(seconds{301});
  EXPECT_EQ(ledger_->Sweep(), 1);
  EXPECT_EQ(Budget("org").reserved, 0);
  auto ack = CommitAndWait(*ledger_, alice_, id, Commitment("c1", 900'000));
  ASSERT_TRUE(ack.ok());
  EXPECT_EQ((*ack)["late"], true);
  EXPECT_EQ(Budget("org").spent, 900'000);
  EXPECT_EQ(Budget("payments").spent, 900'000);
}

TEST_F(LedgerTest, CommitOfAnUnknownReservationIsRecordedForTheCallersRun) {
  auto ack = CommitAndWait(*ledger_, alice_, "r-from-before-a-restart", Commitment("c1", 300'000));
  ASSERT_TRUE(ack.ok());
  EXPECT_EQ((*ack)["late"], true);
  EXPECT_EQ(Budget("payments").spent, 300'000);
}

TEST_F(LedgerTest, AnotherRunCannotCommitOrReleaseThisRunsReservation) {
  const std::string id = ReserveOk(alice_, "k1", 1'000'000);
  Caller mallory = MakeCaller("run-m", "payments", "mallory");
  auto commit = CommitAndWait(*ledger_, mallory, id, Commitment("c1", 1));
  EXPECT_EQ(commit.error().code, ErrorCode::kPermissionDenied);
  auto release = ledger_->Release(mallory, id, {"rel", 1});
  EXPECT_EQ(release.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(ledger_->RunBalance(mallory, "run-a").error().code, ErrorCode::kPermissionDenied);
}

TEST_F(LedgerTest, ReleaseFreesTheHeldEstimate) {
  const std::string id = ReserveOk(alice_, "k1", 1'000'000);
  auto released = ledger_->Release(alice_, id, {"rel", 1});
  ASSERT_TRUE(released.ok());
  EXPECT_EQ((*released)["released"], true);
  EXPECT_EQ(Budget("org").reserved, 0);
}

TEST_F(LedgerTest, EventIsADirectDebitAcknowledgedOnceDurable) {
  auto promise = std::make_shared<std::promise<Result<json>>>();
  auto future = promise->get_future();
  ledger_->RecordEvent(alice_, {"e1", "compute", 800, 0, 7},
                       [promise](Result<json> result) { promise->set_value(std::move(result)); });
  ASSERT_EQ(future.wait_for(seconds{5}), std::future_status::ready);
  auto ack = future.get();
  ASSERT_TRUE(ack.ok());
  EXPECT_EQ((*ack)["committed"], true);
  EXPECT_EQ(Budget("payments").spent, 800);
}

TEST_F(LedgerTest, RestartRebuildsExactlyTheAcknowledgedBalances) {
  for (int i = 0; i < 20; ++i) {
    const std::string id = ReserveOk(alice_, "k" + std::to_string(i), 100'000);
    ASSERT_TRUE(CommitAndWait(*ledger_, alice_, id, Commitment("c" + std::to_string(i), 12'345)).ok());
  }
  Restart();
  ledger_->Recover(store_.Load().value());
  EXPECT_EQ(Budget("org").spent, 20 * 12'345);
  EXPECT_EQ(Budget("per-user").spent, 20 * 12'345);
  // The client did not see the last acknowledgement and resends: counted once.
  auto resend = CommitAndWait(*ledger_, alice_, "r-unknown", Commitment("c19", 12'345));
  ASSERT_TRUE(resend.ok());
  EXPECT_EQ(Budget("org").spent, 20 * 12'345);
  EXPECT_EQ((*ledger_->RunBalance(alice_, "run-a"))["spent"], "0.2469");
}

TEST_F(LedgerTest, RestartKeepsCountingTheRunsRequestsTowardsMaxRequests) {
  alice_.run_limits.max_requests = 3;
  for (int i = 0; i < 2; ++i) {
    const std::string id = ReserveOk(alice_, "k" + std::to_string(i), 100'000);
    ASSERT_TRUE(CommitAndWait(*ledger_, alice_, id, Commitment("c" + std::to_string(i), 1'000)).ok());
  }
  Restart();
  ledger_->Recover(store_.Load().value());
  EXPECT_EQ((*ledger_->RunBalance(alice_, "run-a"))["requests"], 2);
  ReserveOk(alice_, "k2", 100'000);
  auto denied = ledger_->Reserve(alice_, Reservation("k3", 100'000));
  ASSERT_TRUE(denied.ok());
  EXPECT_EQ((*denied)["decision"], "deny");
  EXPECT_NE((*denied)["reason"].get<std::string>().find("maxRequests (3)"), std::string::npos)
      << denied->dump();
}

TEST_F(LedgerTest, CommitOfAReservationFromBeforeARestartCountsAsARequest) {
  alice_.run_limits.max_requests = 1;
  ASSERT_TRUE(CommitAndWait(*ledger_, alice_, "r-earlier", Commitment("c1", 1'000)).ok());
  auto denied = ledger_->Reserve(alice_, Reservation("k1", 100'000));
  ASSERT_TRUE(denied.ok());
  EXPECT_EQ((*denied)["decision"], "deny");
}

TEST_F(LedgerTest, DailyRolloverResetsSpendAndKeepsTheLastPeriod) {
  const std::string id = ReserveOk(alice_, "k1", 1'000'000);
  ASSERT_TRUE(CommitAndWait(*ledger_, alice_, id, Commitment("c1", 1'000'000)).ok());
  clock_.Advance(hours{24});
  BudgetSnapshot payments = Budget("payments");
  EXPECT_EQ(payments.spent, 0);
  ASSERT_EQ(payments.history.size(), 1U);
  EXPECT_EQ(payments.history[0].spent, 1'000'000);
  // The monthly org budget has not rolled over.
  EXPECT_EQ(Budget("org").spent, 1'000'000);
}

TEST_F(LedgerTest, WallClockStepBackwardsDoesNotResetOrReopenAPeriod) {
  const std::string id = ReserveOk(alice_, "k1", 1'000'000);
  ASSERT_TRUE(CommitAndWait(*ledger_, alice_, id, Commitment("c1", 1'000'000)).ok());
  clock_.JumpWall(-hours{36});
  EXPECT_EQ(Budget("payments").spent, 1'000'000);
  EXPECT_TRUE(Budget("payments").history.empty());
}

TEST_F(LedgerTest, RecoveryPutsEarlierPeriodsSpendInTheHistory) {
  const std::string id = ReserveOk(alice_, "k1", 1'000'000);
  ASSERT_TRUE(CommitAndWait(*ledger_, alice_, id, Commitment("c1", 1'000'000)).ok());
  clock_.Advance(hours{24});
  Restart();
  ledger_->Recover(store_.Load().value());
  EXPECT_EQ(Budget("payments").spent, 0);
  ASSERT_EQ(Budget("payments").history.size(), 1U);
  EXPECT_EQ(Budget("payments").history[0].spent, 1'000'000);
}

TEST_F(LedgerTest, ConcurrentClientsNeverPushCommittedSpendPastTheLimit) {
  // Estimates equal actual cost: the limit holds exactly.
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([this, c] {
      Caller caller = MakeCaller("run-" + std::to_string(c), "search", "u" + std::to_string(c));
      for (int i = 0; i < 50; ++i) {
        const std::string key = std::to_string(c) + "-" + std::to_string(i);
        auto answer = ledger_->Reserve(caller, Reservation("k" + key, 300'000));
        if ((*answer)["decision"] != "deny") {
          ASSERT_TRUE(CommitAndWait(*ledger_, caller, (*answer)["id"], Commitment("c" + key, 300'000)).ok());
        }
      }
    });
  }
  for (auto& client : clients) {
    client.join();
  }
  EXPECT_LE(Budget("search").spent, 10'000'000);
  EXPECT_GE(Budget("search").spent, 9'700'000);
}

TEST_F(LedgerTest, InvalidRequestsAreRejectedWithoutChangingBalances) {
  EXPECT_EQ(ledger_->Reserve(alice_, Reservation("", 1)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ledger_->Reserve(alice_, Reservation("k", -1)).error().code, ErrorCode::kInvalidArgument);
  auto negative = CommitAndWait(*ledger_, alice_, "r-x", Commitment("c", -5));
  EXPECT_EQ(negative.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(Budget("org").reserved, 0);
  EXPECT_EQ(Budget("org").spent, 0);
}

// Sends `count` requests with `send(i, reply)` and waits (at most ten seconds) until every
// one is answered; returns how many failed or went unanswered.
int AwaitAll(int count, const std::function<void(int, Ledger::Reply)>& send) {
  struct Pending {
    Mutex mu;
    CondVar done;
    int answered GUARDED_BY(mu) = 0;
    int failed GUARDED_BY(mu) = 0;
  };
  auto pending = std::make_shared<Pending>();
  for (int i = 0; i < count; ++i) {
    send(i, [pending](Result<json> answer) {
      MutexLock lock(pending->mu);
      ++pending->answered;
      pending->failed += answer.ok() ? 0 : 1;
      pending->done.SignalAll();
    });
  }
  MutexLock lock(pending->mu);
  const bool all = pending->done.WaitFor(pending->mu, seconds{10}, [&]() REQUIRES(pending->mu) {
    return pending->answered == count;
  });
  return pending->failed + (all ? 0 : count - pending->answered);
}

// Model names are the pod's to choose: they become budget keys, spend series and workload
TEST_F(LedgerTest, APerKeyBudgetCountsTheKeysOverEachAlertAndBoundsItsTopKeys) {
  // per-user: 5 USD per user, alerts 50/80/95. 30 engineers, three of them at 60, 85, 96 %.
  const int failed = AwaitAll(30, [&](int i, Ledger::Reply reply) {
    const Caller caller =
        MakeCaller("run-" + std::to_string(i), "research", "user-" + std::to_string(i));
    const int64_t micros = i == 0 ? 4'800'000 : i == 1 ? 4'250'000 : i == 2 ? 3'000'000 : 1'000;
    auto answer = ledger_->Reserve(caller, Reservation("k" + std::to_string(i), micros));
    ASSERT_TRUE(answer.ok());
    ledger_->Commit(caller, (*answer)["id"], Commitment("c" + std::to_string(i), micros),
                    std::move(reply));
  });
  ASSERT_EQ(failed, 0);
  const BudgetSnapshot budget = Budget("per-user");
  EXPECT_EQ(budget.per_key, "user");
  EXPECT_EQ(budget.keys, 30);
  EXPECT_EQ(budget.top_keys.size(), BudgetSnapshot::kTopKeys);
  EXPECT_EQ(budget.top_keys.front().key, "user-0");
  EXPECT_EQ(budget.keys_over_alert,
            (std::vector<std::pair<int, int64_t>>{{50, 3}, {80, 2}, {95, 1}}));
  EXPECT_TRUE(Budget("org").keys_over_alert.empty());
}

// tallies only as the rate card's ids, anything else as "other" (and are still charged).
TEST_F(LedgerTest, AFloodOfInventedModelNamesGrowsNoMapPastTheRateCard) {
  ledger_->UpsertBudget(
      MakeBudget("per-model", {{"limit", {{"amount", "1000"}}}, {"perKey", "model"}}));
  constexpr int kModels = 500;
  const int failed = AwaitAll(kModels, [&](int i, Ledger::Reply reply) {
    ReserveRequest reserve = Reservation("k" + std::to_string(i), 1'000);
    reserve.model = "invented-" + std::to_string(i);
    auto answer = ledger_->Reserve(alice_, reserve);
    ASSERT_TRUE(answer.ok());
    CommitRequest commit = Commitment("c" + std::to_string(i), 1'000);
    commit.model = reserve.model;
    ledger_->Commit(alice_, (*answer)["id"], commit, std::move(reply));
  });
  ASSERT_EQ(failed, 0);
  EXPECT_EQ(Budget("per-model").keys, 1);
  EXPECT_EQ(Budget("per-model").spent, kModels * 1'000);
  const auto spend = ledger_->spend();
  ASSERT_EQ(spend.size(), 1U);
  EXPECT_EQ(spend.begin()->first.model, "other");
  EXPECT_EQ(ledger_->WorkloadSpends().at("agents/review").calls_by_model,
            (std::map<std::string, int64_t>{{"other", kModels}}));
  EXPECT_LE(ledger_->sizes().match_cache, 2U);
  // The durable entry keeps the name the call was made with.
  EXPECT_EQ(store_.Load().value().front().model, "invented-0");
}

TEST_F(LedgerTest, AFloodOfInventedEventKindsIsOneSpendSeries) {
  const int failed = AwaitAll(300, [&](int i, Ledger::Reply reply) {
    ledger_->RecordEvent(alice_, {"e" + std::to_string(i), "kind-" + std::to_string(i), 10, 0, 1},
                         std::move(reply));
  });
  ASSERT_EQ(failed, 0);
  ASSERT_EQ(AwaitAll(1, [&](int, Ledger::Reply reply) {
              ledger_->RecordEvent(alice_, {"compute", "compute", 10, 0, 2}, std::move(reply));
            }),
            0);
  std::set<std::string> models;
  for (const auto& [key, totals] : ledger_->spend()) {
    models.insert(key.model);
  }
  EXPECT_EQ(models, (std::set<std::string>{"compute", "other"}));
  EXPECT_EQ(Budget("org").spent, 3'010);
}

// Run envelopes go when the operator reports the run ended, or after a day without a call.
TEST_F(LedgerTest, AFloodOfRunsIsForgottenWhenTheyEndOrGoIdle) {
  constexpr int kRuns = 2000;
  auto caller = [](int i) { return MakeCaller("flood-" + std::to_string(i), "search", "u"); };
  for (int i = 0; i < kRuns; ++i) {
    auto answer = ledger_->Reserve(caller(i), Reservation("k", 1));
    ASSERT_TRUE(ledger_->Release(caller(i), (*answer)["id"], {"r", 7}).ok());
  }
  EXPECT_EQ(ledger_->sizes().runs, static_cast<size_t>(kRuns));
  const int failed = AwaitAll(kRuns / 2, [&](int i, Ledger::Reply reply) {
    ledger_->RecordEvent(caller(i), {"outcome", std::string(kOutcomeReport) + "Succeeded", 0, 0, 3},
                         std::move(reply));
  });
  ASSERT_EQ(failed, 0);
  EXPECT_EQ(ledger_->sizes().runs, static_cast<size_t>(kRuns / 2));
  clock_.Advance(hours{24});
  ledger_->Sweep();
  EXPECT_EQ(ledger_->sizes().runs, 0U);
}

// A committed reservation leaves a fixed-size tombstone, forgotten after tombstone_ttl, and
// its answer is forgotten after idempotency_ttl; both still refuse and replay until then.
TEST_F(LedgerTest, CommittedTombstonesAndAnswersAreForgottenAfterTheirWindows) {
  constexpr int kPairs = 500;
  std::vector<std::string> ids;
  for (int i = 0; i < kPairs; ++i) {
    ids.push_back(ReserveOk(alice_, "k" + std::to_string(i), 1'000));
  }
  ASSERT_EQ(AwaitAll(kPairs, [&](int i, Ledger::Reply reply) {
              ledger_->Commit(alice_, ids[i], Commitment("c" + std::to_string(i), 700),
                              std::move(reply));
            }),
            0);
  ledger_->Sweep();
  EXPECT_EQ(ledger_->sizes().committed, static_cast<size_t>(kPairs));
  EXPECT_EQ(ledger_->sizes().reservations, static_cast<size_t>(kPairs));
  EXPECT_EQ(ledger_->sizes().answers, static_cast<size_t>(2 * kPairs));
  // Inside the windows: a second commit is refused, a release too, a replay answered.
  clock_.Advance(seconds{3599});
  ledger_->Sweep();
  auto again = CommitAndWait(*ledger_, alice_, ids[7], Commitment("other", 700));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  auto other_run = CommitAndWait(*ledger_, MakeCaller("run-b", "payments", "bob"), ids[7],
                                 Commitment("other", 700));
  ASSERT_FALSE(other_run.ok());
  EXPECT_EQ(other_run.error().code, ErrorCode::kPermissionDenied);
  auto release = ledger_->Release(alice_, ids[7], {"rel", 1});
  ASSERT_FALSE(release.ok());
  EXPECT_EQ(release.error().code, ErrorCode::kConflict);
  auto replay = CommitAndWait(*ledger_, alice_, ids[7], Commitment("c7", 700));
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(*replay, (json{{"id", ids[7]}, {"committed", true}, {"cost", "0.0007"}}));
  clock_.Advance(seconds{1});
  ledger_->Sweep();
  EXPECT_EQ(ledger_->sizes().committed, 0U);
  EXPECT_EQ(ledger_->sizes().reservations, 0U);
  EXPECT_EQ(ledger_->sizes().answers, 0U);
  EXPECT_EQ(Budget("org").spent, kPairs * 700);
}

// Sweep() runs under the ledger's lock every 200 ms: its work is what is due (bound:
// LedgerSizes::sweep_visits), never the thousands of reservations, tombstones and runs held.
TEST_F(LedgerTest, SweepHandlesOnlyWhatIsDueHoweverMuchTheLedgerHolds) {
  constexpr int kInFlight = 1000;
  constexpr int kCommitted = 1000;
  for (int i = 0; i < kInFlight; ++i) {
    ReserveOk(MakeCaller("flight-" + std::to_string(i), "search", "u"), "k", 1'000);
  }
  std::vector<std::string> ids;
  for (int i = 0; i < kCommitted; ++i) {
    ids.push_back(ReserveOk(alice_, "k" + std::to_string(i), 1'000));
  }
  ASSERT_EQ(AwaitAll(kCommitted, [&](int i, Ledger::Reply reply) {
              ledger_->Commit(alice_, ids[i], Commitment("c" + std::to_string(i), 700),
                              std::move(reply));
            }),
            0);
  // The commits the store confirmed are due once.
  EXPECT_EQ(ledger_->Sweep(), 0);
  EXPECT_EQ(ledger_->sizes().sweep_visits, static_cast<size_t>(kCommitted));
  ledger_->Sweep();
  EXPECT_EQ(ledger_->sizes().sweep_visits, 0U);
  EXPECT_EQ(ledger_->sizes().reservations, static_cast<size_t>(kInFlight + kCommitted));
  EXPECT_EQ(ledger_->sizes().runs, static_cast<size_t>(kInFlight + 1));
  // Past the reservation TTL: only the reservations in flight are due.
  clock_.Advance(seconds{301});
  EXPECT_EQ(ledger_->Sweep(), kInFlight);
  EXPECT_EQ(ledger_->sizes().sweep_visits, static_cast<size_t>(kInFlight));
  EXPECT_EQ(Budget("search").reserved, 0);
  ledger_->Sweep();
  EXPECT_EQ(ledger_->sizes().sweep_visits, 0U);
}

// Runs are swept least recently active first: a call moves its run to the back.
TEST_F(LedgerTest, ARunActiveAgainOutlivesARunIdleSinceLater) {
  const Caller early = MakeCaller("early", "search", "u");
  const Caller later = MakeCaller("later", "search", "u");
  // A reservation left to expire: its request keeps counting (a released one would not).
  auto touch = [&](const Caller& caller, const std::string& key) {
    ASSERT_TRUE(ledger_->Reserve(caller, Reservation(key, 1)).ok());
    ledger_->Sweep();
  };
  touch(early, "k1");
  clock_.Advance(hours{1});
  touch(later, "k1");
  clock_.Advance(hours{1});
  touch(early, "k2");
  clock_.Advance(hours{23});
  ledger_->Sweep();
  EXPECT_EQ(ledger_->sizes().runs, 1U);
  EXPECT_EQ(ledger_->Run("early").totals.requests, 2);
  EXPECT_EQ(ledger_->Run("later").totals.requests, 0);
}

TEST_F(LedgerTest, ARunThatEndsWithAReservationInFlightKeepsItsEnvelopeUntilIdle) {
  ReserveOk(alice_, "k1", 1'000);
  ASSERT_EQ(AwaitAll(1, [&](int, Ledger::Reply reply) {
              const std::string failed = std::string(kOutcomeReport) + "Failed";
              ledger_->RecordEvent(alice_, {"outcome", failed, 0, 0, 3}, std::move(reply));
            }),
            0);
  EXPECT_EQ(ledger_->sizes().runs, 1U);
  EXPECT_EQ(ledger_->Run("run-a").totals.reserved.micros(), 1'000);
}

// Recovery reads every run of the durable ledger: only those active within a day are kept.
TEST_F(LedgerTest, RecoveredRunsAreKeptOnlyWhileRecentlyActive) {
  constexpr int kRuns = 300;
  ASSERT_EQ(AwaitAll(kRuns, [&](int i, Ledger::Reply reply) {
              ledger_->RecordEvent(MakeCaller("old-" + std::to_string(i), "search", "u"),
                                   {"e", "compute", 10, 0, 1}, std::move(reply));
            }),
            0);
  clock_.Advance(hours{23});
  Restart();
  ledger_->Recover(store_.Load().value());
  EXPECT_EQ(ledger_->sizes().recovered_runs, static_cast<size_t>(kRuns));
  EXPECT_EQ(ledger_->Run("old-7").totals.spent.micros(), 10);
  clock_.Advance(hours{1});
  ledger_->Sweep();
  EXPECT_EQ(ledger_->sizes().recovered_runs, 0U);
  Restart();
  ledger_->Recover(store_.Load().value());
  EXPECT_EQ(ledger_->sizes().recovered_runs, 0U);
  // Budgets still count every durable entry.
  EXPECT_EQ(Budget("search").spent, kRuns * 10);
}

}  // namespace
}  // namespace agentbudget::authority
