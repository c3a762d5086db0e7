#include "operator/authority/ledger_compaction.h"

#include <gtest/gtest.h>

#include "operator/authority/ledger.h"
#include "tests/authority/fake_clock.h"
#include "tests/authority/ledger_test_support.h"

namespace agentbudget::authority {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// 2026-11-27 12:00:00 UTC.
const std::chrono::system_clock::time_point kNoon{seconds{1'795'780'800}};

// What must survive compaction and restart: every budget's balances and past periods, and
// each run's spend and request count.
struct Balances {
  std::vector<std::tuple<std::string, int64_t, std::vector<std::pair<int64_t, int64_t>>,
                         std::vector<std::pair<std::string, int64_t>>, int64_t>>
      budgets;
  std::vector<std::string> runs;
  bool operator==(const Balances&) const = default;
};

class LedgerCompactionTest : public ::testing::Test {
 protected:
  LedgerCompactionTest() { Restart(); }

  void Restart() {
    ledger_.reset();
    ledger_ = std::make_unique<Ledger>(clock_, store_, TestRates(), Ledger::Options{},
                                       GroupCommitter::Options{std::chrono::milliseconds{2}, 100});
    ledger_->UpsertBudget(MakeBudget("org", {{"limit", {{"amount", "100000"}}}}));
    ledger_->UpsertBudget(MakeBudget(
        "payments-daily", {{"limit", {{"amount", "1000"}}},
                           {"selector", {{"matchLabels", {{"team", "payments"}}}}},
                           {"period", "Day"},
                           {"timeZone", "Asia/Kathmandu"}}));
    ledger_->UpsertBudget(MakeBudget(
        "per-user", {{"limit", {{"amount", "500"}}}, {"perKey", "user"}, {"period", "Week"}}));
    ledger_->UpsertBudget(MakeBudget("tokens", {{"limit", {{"tokens", 100000000}}}}));
  }

  Balances Read() {
    Balances balances;
    for (const BudgetSnapshot& budget : ledger_->Budgets()) {
      std::vector<std::pair<int64_t, int64_t>> history;
      for (const ClosedPeriod& period : budget.history) {
        history.emplace_back(period.start.time_since_epoch().count(), period.spent);
      }
      std::vector<std::pair<std::string, int64_t>> keys;
      for (const auto& key : budget.top_keys) {
        keys.emplace_back(key.key, key.spent);
      }
      balances.budgets.emplace_back(budget.name, budget.spent, history, keys, budget.keys);
    }
    for (const Caller* caller : {&alice_, &bob_}) {
      balances.runs.push_back(ledger_->RunBalance(*caller, caller->run)->dump());
    }
    return balances;
  }

  // Three days of commits by two runs, two at a time every 47 minutes (so they straddle
  // the 15-minute buckets and Kathmandu's +05:45 midnights), and some late commits.
  void Spend() {
    for (int i = 0; i < 100; ++i) {
      const Caller& caller = i % 3 == 0 ? bob_ : alice_;
      const std::string n = std::to_string(i);
      for (const std::string pair : {"a", "b"}) {
        auto reserved = ledger_->Reserve(caller, Reservation("k" + pair + n, 10'000 + i));
        ASSERT_TRUE(reserved.ok());
        ASSERT_TRUE(CommitAndWait(*ledger_, caller, (*reserved)["id"],
                                  Commitment("c" + pair + n, 1'000 + i))
                        .ok());
      }
      if (i % 10 == 0) {
        // A reservation from before a restart, committed late.
        ASSERT_TRUE(CommitAndWait(*ledger_, caller, "r-old-" + n, Commitment("l" + n, 7'000)).ok());
      }
      clock_.Advance(minutes{47});
    }
  }

  // Folds what is older than `before`, keeping key digests from then on.
  Result<size_t> Compact(core::SysSeconds before) {
    return store_.Compact(CompactOptions{before, before});
  }

  FakeClock clock_{kNoon};
  InMemoryLedgerStore store_;
  std::unique_ptr<Ledger> ledger_;
  Caller alice_ = MakeCaller("run-a", "payments", "alice");
  Caller bob_ = MakeCaller("run-b", "search", "bob");
};

TEST_F(LedgerCompactionTest, RestartAfterCompactionGivesIdenticalBalances) {
  Spend();
  Restart();
  ledger_->Recover(store_.Load().value());
  const Balances uncompacted = Read();

  const size_t stored = store_.Load()->size();
  auto folded = Compact(std::chrono::floor<seconds>(clock_.Now()) - hours{25});
  ASSERT_TRUE(folded.ok());
  EXPECT_GT(*folded, 0U);
  EXPECT_EQ(store_.Load()->size(), stored - *folded);

  Restart();
  ledger_->Recover(store_.Load().value());
  EXPECT_EQ(Read(), uncompacted);
}

TEST_F(LedgerCompactionTest, CompactingTwiceFoldsTheCheckpointAgainWithoutChangingBalances) {
  Spend();
  Restart();
  ledger_->Recover(store_.Load().value());
  const Balances uncompacted = Read();
  const seconds day{hours{24}};
  ASSERT_TRUE(Compact(std::chrono::floor<seconds>(clock_.Now()) - 2 * day).ok());
  ASSERT_TRUE(Compact(std::chrono::floor<seconds>(clock_.Now()) - day).ok());
  Restart();
  ledger_->Recover(store_.Load().value());
  EXPECT_EQ(Read(), uncompacted);
  // 132 commits and 6 late commits: all count towards maxRequests after the restart.
  EXPECT_EQ((*ledger_->RunBalance(alice_, "run-a"))["requests"], 138);
}

TEST_F(LedgerCompactionTest, KeysInsideTheWindowStillGetTheirFirstAnswer) {
  Spend();
  ASSERT_TRUE(Compact(std::chrono::floor<seconds>(clock_.Now()) - hours{25}).ok());
  Restart();
  ledger_->Recover(store_.Load().value());
  const Balances before = Read();
  // Bob's ca99 was committed 47 minutes ago: its resend is answered, not counted again.
  auto resend = CommitAndWait(*ledger_, bob_, "r-gone", Commitment("ca99", 1'099));
  ASSERT_TRUE(resend.ok()) << resend.error().ToString();
  EXPECT_EQ(Read(), before);
}

TEST_F(LedgerCompactionTest, FoldingEveryFewMinutesKeepsBalancesRequestsAndReplays) {
  // As housekeeping does: fold everything older than two minutes after every step, keeping
  // key digests for an hour.
  for (int i = 0; i < 100; ++i) {
    const std::string n = std::to_string(i);
    auto reserved = ledger_->Reserve(alice_, Reservation("k" + n, 10'000 + i));
    ASSERT_TRUE(reserved.ok());
    ASSERT_TRUE(CommitAndWait(*ledger_, alice_, (*reserved)["id"], Commitment("c" + n, 1'000 + i))
                    .ok());
    clock_.Advance(minutes{7});
    const core::SysSeconds now = std::chrono::floor<seconds>(clock_.Now());
    ASSERT_TRUE(store_.Compact(CompactOptions{now - minutes{2}, now - hours{1}}).ok());
  }
  // Every entry is folded: 700 minutes of 15-minute buckets, not 100 commits.
  const std::vector<LedgerEntry> stored = store_.Load().value();
  EXPECT_LE(stored.size(), 700U / 15 + 1);
  for (const LedgerEntry& entry : stored) {
    EXPECT_GT(entry.folded, 0);
  }
  Restart();
  ledger_->Recover(stored);
  const Balances before = Read();
  EXPECT_EQ((*ledger_->RunBalance(alice_, "run-a"))["requests"], 100);
  // c95 was committed 35 minutes ago: folded, yet its resend gets the first answer exactly.
  auto resend = CommitAndWait(*ledger_, alice_, "r-gone", Commitment("c95", 1'095));
  ASSERT_TRUE(resend.ok()) << resend.error().ToString();
  EXPECT_EQ((*resend)["cost"], "0.001095");
  EXPECT_NE((*resend)["id"], "r-gone");
  EXPECT_EQ(Read(), before);
  // The same key with another body is still a conflict.
  auto reused = CommitAndWait(*ledger_, alice_, "r-gone", Commitment("c95", 1'096));
  ASSERT_FALSE(reused.ok());
  EXPECT_EQ(reused.error().code, ErrorCode::kConflict);
}

TEST(FoldEntriesTest, TokenTypesStaySeparateInTheTotals) {
  LedgerEntry entry;
  entry.run = "run-a";
  entry.idempotency_key = "c1";
  entry.tokens = 16;
  entry.token_types = {1, 2, 3, 4, 6};
  entry.at = core::SysSeconds{seconds{1'795'780'805}};
  LedgerEntry second = entry;
  second.idempotency_key = "c2";
  second.token_types = {10, 20, 30, 40, 60};
  second.tokens = 160;
  std::vector<LedgerEntry> stored = FoldEntries({entry}, core::SysSeconds::max());
  stored.push_back(second);
  const std::vector<LedgerEntry> folded = FoldEntries(stored, core::SysSeconds::max());
  ASSERT_EQ(folded.size(), 1U);
  EXPECT_EQ(folded[0].token_types, (TokenCounts{11, 22, 33, 44, 66}));
  EXPECT_EQ(folded[0].tokens, 176);
  auto decoded = LedgerEntry::FromJson(folded[0].ToJson());
  ASSERT_TRUE(decoded.ok()) << decoded.error().ToString();
  EXPECT_EQ(decoded->token_types, folded[0].token_types);
}

TEST(FoldEntriesTest, ARawCopyOfAFoldedKeyCountsOnce) {
  LedgerEntry entry;
  entry.run = "run-a";
  entry.id = "r-1";
  entry.idempotency_key = "c1";
  entry.request_hash = 9;
  entry.cost_micros = 5;
  entry.at = core::SysSeconds{seconds{1'795'780'805}};
  const std::vector<LedgerEntry> once = FoldEntries({entry}, core::SysSeconds{});
  ASSERT_EQ(once.size(), 1U);
  ASSERT_EQ(once[0].digests.size(), 1U);
  EXPECT_EQ(once[0].digests[0],
            (KeyDigest{KeyDigestOf("run-a", LedgerEntry::Kind::kCommit, "c1"), 9, "r-1", 5}));
  const std::vector<LedgerEntry> again = FoldEntries({once[0], entry}, core::SysSeconds{});
  ASSERT_EQ(again.size(), 1U);
  EXPECT_EQ(again[0].cost_micros, 5);
  EXPECT_EQ(again[0].folded, 1);
  // Past the window the digests go, and the totals stay.
  const std::vector<LedgerEntry> aged = FoldEntries(again, core::SysSeconds::max());
  EXPECT_TRUE(aged[0].digests.empty());
  EXPECT_EQ(aged[0].cost_micros, 5);
}

TEST(FoldEntriesTest, AnEntryStoredTwiceIsFoldedOnce) {
  LedgerEntry entry;
  entry.run = "run-a";
  entry.idempotency_key = "c1";
  entry.cost_micros = 5;
  entry.tokens = 7;
  entry.at = core::SysSeconds{seconds{1'795'780'805}};
  entry.charges = {{"org", ""}};
  const std::vector<LedgerEntry> folded = FoldEntries({entry, entry}, core::SysSeconds::max());
  ASSERT_EQ(folded.size(), 1U);
  EXPECT_EQ(folded[0].cost_micros, 5);
  EXPECT_EQ(folded[0].folded, 1);
  EXPECT_EQ(folded[0].idempotency_key, "");
  EXPECT_EQ(folded[0].at, core::SysSeconds{seconds{1'795'780'800}});
}

TEST(FoldEntriesTest, EntriesInDifferentBucketsOrEnvelopesStayApart) {
  LedgerEntry first;
  first.run = "run-a";
  first.idempotency_key = "c1";
  first.cost_micros = 5;
  first.at = core::SysSeconds{seconds{1'795'780'800}};
  first.charges = {{"per-user", "alice"}};
  LedgerEntry same_bucket = first;
  same_bucket.idempotency_key = "c2";
  same_bucket.at += minutes{14};
  LedgerEntry next_bucket = first;
  next_bucket.idempotency_key = "c3";
  next_bucket.at += minutes{15};
  LedgerEntry other_key = first;
  other_key.idempotency_key = "c4";
  other_key.charges = {{"per-user", "bob"}};
  const std::vector<LedgerEntry> folded = FoldEntries({first, same_bucket, next_bucket, other_key}, core::SysSeconds::max());
  ASSERT_EQ(folded.size(), 3U);
  EXPECT_EQ(folded[0].cost_micros, 10);
  EXPECT_EQ(folded[0].folded, 2);
  EXPECT_EQ(folded[1].at, first.at + minutes{15});
  EXPECT_EQ(folded[2].charges[0].key, "bob");
}

// A merge takes totals out as it goes: in time order that gives what FoldEntries gives;
// an entry of a group already taken starts a second total, and the sums stay exact.
TEST(FolderTest, TakingSettledTotalsKeepsTheSumsAndLeavesOnlyRecentGroups) {
  const core::SysSeconds noon{seconds{1'795'780'800}};
  std::vector<LedgerEntry> entries;
  for (int i = 0; i < 12; ++i) {
    LedgerEntry entry;
    entry.run = "run-a";
    entry.idempotency_key = "c" + std::to_string(i);
    entry.cost_micros = 100 + i;
    entry.at = noon + minutes{10 * i};
    entries.push_back(entry);
  }
  Folder folder(core::SysSeconds::max());
  std::vector<LedgerEntry> out;
  for (const LedgerEntry& entry : entries) {
    folder.Add(entry);
    for (LedgerEntry& total : folder.TakeSettled(entry.at - hours{1})) {
      EXPECT_LE(total.at + minutes{15}, entry.at - hours{1});
      out.push_back(std::move(total));
    }
  }
  EXPECT_FALSE(out.empty());
  for (LedgerEntry& total : folder.Take()) {
    out.push_back(std::move(total));
  }
  const std::vector<LedgerEntry> whole = FoldEntries(entries, core::SysSeconds::max());
  ASSERT_EQ(out.size(), whole.size());
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].ToJson(), whole[i].ToJson()) << i;
  }

  // A straggler for the first bucket, after that bucket was taken.
  Folder again(core::SysSeconds::max());
  again.Add(entries[0]);
  ASSERT_EQ(again.TakeSettled(noon + hours{1}).size(), 1U);
  LedgerEntry straggler = entries[1];
  straggler.at = noon + minutes{1};
  again.Add(straggler);
  const std::vector<LedgerEntry> rest = again.Take();
  ASSERT_EQ(rest.size(), 1U);
  EXPECT_EQ(rest[0].at, noon);
  EXPECT_EQ(rest[0].cost_micros, straggler.cost_micros);
}

TEST(FoldEntriesTest, FoldedEntriesSurviveTheirJsonRoundTrip) {
  LedgerEntry entry;
  entry.run = "run-a";
  entry.folded = 42;
  entry.at = core::SysSeconds{seconds{1'795'780'800}};
  auto decoded = LedgerEntry::FromJson(entry.ToJson());
  ASSERT_TRUE(decoded.ok()) << decoded.error().ToString();
  EXPECT_EQ(decoded->folded, 42);
  nlohmann::json bad = entry.ToJson();
  bad["n"] = 0;
  EXPECT_FALSE(LedgerEntry::FromJson(bad).ok());
}

}  // namespace
}  // namespace agentbudget::authority
