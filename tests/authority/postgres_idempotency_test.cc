// The ledger's idempotency on the PostgreSQL store: answers and committed reservations are
// kept in memory only for the recent window, and the store's AnswerIndex answers the rest
// of the idempotency window, exactly as memory would have, before and after compaction
// and a restart; memory stays bounded however many keys the window holds. Against a real
// PostgreSQL server each test starts (e2e/support/postgres_server.h).
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "e2e/support/postgres_server.h"
#include "operator/authority/ledger.h"
#include "operator/authority/pg_connection.h"
#include "operator/authority/postgres_ledger_store.h"
#include "tests/authority/fake_clock.h"
#include "tests/authority/ledger_test_support.h"

namespace agentbudget::authority {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const std::chrono::system_clock::time_point kNoon{seconds{1'795'780'800}};

Result<json> EventAndWait(Ledger& ledger, const Caller& caller, const EventRequest& request) {
  auto promise = std::make_shared<std::promise<Result<json>>>();
  auto future = promise->get_future();
  ledger.RecordEvent(caller, request,
                     [promise](Result<json> result) { promise->set_value(std::move(result)); });
  if (future.wait_for(seconds{5}) != std::future_status::ready) {
    return Internal("no acknowledgement within five seconds");
  }
  return future.get();
}

class PostgresIdempotencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = e2e::PostgresServer::Start();
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(*server);
    Restart();
  }

  // A new store and ledger, as after the operator restarted: recovered from the store.
  void Restart() {
    ledger_.reset();
    auto store = OpenPostgresLedgerWriter({server_->conninfo(), std::chrono::milliseconds{2000}});
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
    Ledger::Options options;
    options.key_filter_bits = uint64_t{1} << 16;
    ledger_ = std::make_unique<Ledger>(clock_, *store_, TestRates(), options,
                                       GroupCommitter::Options{std::chrono::milliseconds{5}, 100});
    ledger_->UpsertBudget(MakeBudget("org", {{"limit", {{"amount", "1000"}}}}));
    auto entries = store_->Load();
    ASSERT_TRUE(entries.ok()) << entries.error().message;
    ledger_->Recover(*entries);
  }

  // Moves time past the recent window and sweeps: memory forgets answers and tombstones.
  void ForgetRecent() {
    ledger_->Sweep();  // the store confirmed what was pending
    clock_.Advance(seconds{11});
    ledger_->Sweep();
  }

  std::string Reserve(const std::string& key) {
    auto answer = ledger_->Reserve(alice_, Reservation(key, 1'000));
    EXPECT_TRUE(answer.ok());
    return answer.ok() ? (*answer)["id"].get<std::string>() : "";
  }

  int64_t OrgSpent() { return ledger_->Budget("org")->spent; }

  size_t StoredEntries() {
    auto entries = store_->Load();
    EXPECT_TRUE(entries.ok());
    return entries.ok() ? entries->size() : 0;
  }

  std::unique_ptr<e2e::PostgresServer> server_;
  FakeClock clock_{kNoon};
  std::unique_ptr<PostgresLedgerStore> store_;
  std::unique_ptr<Ledger> ledger_;
  Caller alice_ = MakeCaller("run-a", "payments", "alice");
};

TEST_F(PostgresIdempotencyTest, CommitResentAfterMemoryForgotItGetsTheFirstAnswerOnce) {
  const std::string id = Reserve("k1");
  auto first = CommitAndWait(*ledger_, alice_, id, Commitment("c1", 700));
  ASSERT_TRUE(first.ok()) << first.error().message;
  ForgetRecent();
  EXPECT_EQ(ledger_->sizes().answers, 0U);
  EXPECT_EQ(ledger_->sizes().committed, 0U);

  auto again = CommitAndWait(*ledger_, alice_, id, Commitment("c1", 700));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(OrgSpent(), 700);
  EXPECT_EQ(ledger_->stats().commits, 1);
  EXPECT_EQ(ledger_->stats().replays, 1);
  EXPECT_EQ(StoredEntries(), 1U);
}

TEST_F(PostgresIdempotencyTest, KeyReusedWithAnotherRequestAfterMemoryForgotItIsAConflict) {
  const std::string id = Reserve("k1");
  ASSERT_TRUE(CommitAndWait(*ledger_, alice_, id, Commitment("c1", 700)).ok());
  ForgetRecent();
  auto reused = CommitAndWait(*ledger_, alice_, id, Commitment("c1", 900));
  ASSERT_FALSE(reused.ok());
  EXPECT_EQ(reused.error().code, ErrorCode::kConflict);
  EXPECT_EQ(OrgSpent(), 700);
}

TEST_F(PostgresIdempotencyTest, ReservationCommittedBeforeIsRefusedUnderAnotherKeyOrRun) {
  const std::string id = Reserve("k1");
  ASSERT_TRUE(CommitAndWait(*ledger_, alice_, id, Commitment("c1", 700)).ok());
  ForgetRecent();
  auto second = CommitAndWait(*ledger_, alice_, id, Commitment("c2", 700));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kConflict);
  auto other_run =
      CommitAndWait(*ledger_, MakeCaller("run-b", "search", "bob"), id, Commitment("c3", 700));
  ASSERT_FALSE(other_run.ok());
  EXPECT_EQ(other_run.error().code, ErrorCode::kPermissionDenied);
  auto release = ledger_->Release(alice_, id, {"rel", 1});
  ASSERT_FALSE(release.ok());
  EXPECT_EQ(release.error().code, ErrorCode::kConflict);
  EXPECT_EQ(OrgSpent(), 700);
  EXPECT_EQ(StoredEntries(), 1U);
}

TEST_F(PostgresIdempotencyTest, EventResentAfterMemoryForgotItGetsTheFirstAnswerOnce) {
  auto first = EventAndWait(*ledger_, alice_, {"ev1", "tool", 300, 0, 42});
  ASSERT_TRUE(first.ok()) << first.error().message;
  ForgetRecent();
  auto again = EventAndWait(*ledger_, alice_, {"ev1", "tool", 300, 0, 42});
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(OrgSpent(), 300);
  EXPECT_EQ(ledger_->stats().events, 1);
}

TEST_F(PostgresIdempotencyTest, FoldedKeysAreAnsweredUntilTheWindowEnds) {
  const std::string id = Reserve("k1");
  auto first = CommitAndWait(*ledger_, alice_, id, Commitment("c1", 700));
  ASSERT_TRUE(first.ok());
  ForgetRecent();
  clock_.Advance(seconds{20 * 60});
  const core::SysSeconds now = std::chrono::floor<seconds>(clock_.Now());
  auto folded = store_->Compact({now - seconds{120}, now - ledger_->idempotency_window()});
  ASSERT_TRUE(folded.ok()) << folded.error().message;
  auto again = CommitAndWait(*ledger_, alice_, id, Commitment("c1", 700));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(OrgSpent(), 700);

  // Past the window the store drops the answer: the key is not recognised any more.
  ForgetRecent();
  clock_.Advance(ledger_->idempotency_window());
  const core::SysSeconds later = std::chrono::floor<seconds>(clock_.Now());
  ASSERT_TRUE(store_->Compact({later - seconds{120}, later - ledger_->idempotency_window()}).ok());
  PgConnection connection(server_->conninfo(), std::chrono::milliseconds{2000});
  auto answers = connection.Exec("SELECT count(*) FROM agentbudget_ledger_answers");
  ASSERT_TRUE(answers.ok());
  EXPECT_STREQ(answers->Text(0, 0), "0");
}

TEST_F(PostgresIdempotencyTest, AfterARestartResendsAreAnsweredFromTheStoreNotDoubled) {
  const std::string id = Reserve("k1");
  auto commit = CommitAndWait(*ledger_, alice_, id, Commitment("c1", 700));
  ASSERT_TRUE(commit.ok());
  auto event = EventAndWait(*ledger_, alice_, {"ev1", "tool", 300, 0, 42});
  ASSERT_TRUE(event.ok());
  Restart();
  EXPECT_EQ(ledger_->sizes().answers, 0U);
  EXPECT_EQ(OrgSpent(), 1000);
  auto commit_again = CommitAndWait(*ledger_, alice_, id, Commitment("c1", 700));
  ASSERT_TRUE(commit_again.ok()) << commit_again.error().message;
  EXPECT_EQ(*commit_again, *commit);
  auto event_again = EventAndWait(*ledger_, alice_, {"ev1", "tool", 300, 0, 42});
  ASSERT_TRUE(event_again.ok());
  EXPECT_EQ(*event_again, *event);
  auto second = CommitAndWait(*ledger_, alice_, id, Commitment("c2", 700));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kConflict);
  EXPECT_EQ(OrgSpent(), 1000);
  EXPECT_EQ(StoredEntries(), 2U);
}

TEST_F(PostgresIdempotencyTest, ResendWhileTheStoreIsDownIsUnavailableNotCountedAgain) {
  const std::string id = Reserve("k1");
  ASSERT_TRUE(CommitAndWait(*ledger_, alice_, id, Commitment("c1", 700)).ok());
  ForgetRecent();
  ASSERT_TRUE(server_->Freeze().ok());
  auto again = CommitAndWait(*ledger_, alice_, id, Commitment("c1", 700));
  ASSERT_TRUE(server_->Thaw().ok());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(OrgSpent(), 700);
  auto later = CommitAndWait(*ledger_, alice_, id, Commitment("c1", 700));
  ASSERT_TRUE(later.ok()) << later.error().message;
  EXPECT_EQ(OrgSpent(), 700);
}

// 1,000 pairs over 10 simulated minutes: memory holds the answers of the recent window
// only, while every key stays answered by the store.
TEST_F(PostgresIdempotencyTest, MemoryHoldsOnlyTheRecentWindowOfAnswers) {
  constexpr int kPairs = 1000;
  size_t most_answers = 0;
  size_t most_committed = 0;
  std::vector<std::string> ids;
  for (int i = 0; i < kPairs; ++i) {
    const std::string key = std::to_string(i);
    ids.push_back(Reserve("k" + key));
    ASSERT_TRUE(CommitAndWait(*ledger_, alice_, ids.back(), Commitment("c" + key, 10)).ok());
    if (i % 5 == 4) {
      clock_.Advance(seconds{3});
      ledger_->Sweep();
      most_answers = std::max(most_answers, ledger_->sizes().answers);
      most_committed = std::max(most_committed, ledger_->sizes().committed);
    }
  }
  // 10 s of recent window at 5 pairs per 3 s: at most 20 pairs, two answers each.
  EXPECT_LE(most_answers, 40U);
  EXPECT_LE(most_committed, 20U);
  for (int i : {0, 567, kPairs - 1}) {
    const std::string key = std::to_string(i);
    auto again = CommitAndWait(*ledger_, alice_, ids[static_cast<size_t>(i)],
                               Commitment("c" + key, 10));
    ASSERT_TRUE(again.ok()) << again.error().message;
  }
  EXPECT_EQ(OrgSpent(), kPairs * 10);
  EXPECT_EQ(ledger_->stats().commits, kPairs);
}

TEST_F(PostgresIdempotencyTest, MigrationToVersion2IndexesTheAnswersOfStoredEntries) {
  const std::string id = Reserve("k1");
  auto first = CommitAndWait(*ledger_, alice_, id, Commitment("c1", 700));
  ASSERT_TRUE(first.ok());
  ledger_.reset();
  store_.reset();
  // The database as schema version 1 left it: no answers table.
  PgConnection connection(server_->conninfo(), std::chrono::milliseconds{2000});
  ASSERT_TRUE(connection
                  .ExecScript("DROP TABLE agentbudget_ledger_answers; "
                              "DELETE FROM agentbudget_schema_version WHERE version = 2")
                  .ok());
  Restart();
  auto again = CommitAndWait(*ledger_, alice_, id, Commitment("c1", 700));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(OrgSpent(), 700);
}

}  // namespace
}  // namespace agentbudget::authority
