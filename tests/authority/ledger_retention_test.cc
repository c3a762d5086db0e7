#include "operator/authority/ledger_retention.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "operator/authority/ledger.h"
#include "operator/authority/ledger_compaction.h"
#include "tests/authority/fake_clock.h"
#include "tests/authority/ledger_test_support.h"

namespace agentbudget::authority {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

const core::SysSeconds kNow{seconds{1'795'780'800}};  // 2026-11-27 12:00:00 UTC

core::SysSeconds Utc(int year, unsigned month, unsigned day) {
  return core::SysSeconds{std::chrono::sys_days{std::chrono::year{year} / month / day}};
}

core::BudgetSpec Periodic(const std::string& period) {
  return MakeBudget("b-" + period, {{"limit", {{"amount", "10"}}}, {"period", period}});
}

TEST(RetentionStartTest, WithoutBudgetsTheFocusWindowIsThisAndLastCalendarMonth) {
  EXPECT_EQ(RetentionStart({}, kNow), Utc(2026, 10, 1));
}

TEST(RetentionStartTest, ABudgetKeepsItsCurrentPeriodAndTheHistoryBeforeIt) {
  // Twelve days before today's start is inside last month: the FOCUS window governs.
  EXPECT_EQ(RetentionStart({Periodic("Day")}, kNow), Utc(2026, 10, 1));
  // Twelve months before November 2026.
  EXPECT_EQ(RetentionStart({Periodic("Day"), Periodic("Month")}, kNow), Utc(2025, 11, 1));
  // Twelve quarters before the one starting 2026-10-01.
  EXPECT_EQ(RetentionStart({Periodic("Quarter")}, kNow), Utc(2023, 10, 1));
}

TEST(RetentionStartTest, ABudgetThatNeverResetsKeepsEverything) {
  EXPECT_EQ(RetentionStart({Periodic("Day"), Periodic("Never")}, kNow), core::SysSeconds::min());
}

// Folded totals past retention are dropped, so a ledger compacted daily holds at most the
// retention window's totals however long it runs, and a restart still rebuilds every
// balance and period history the budgets report.
TEST(LedgerRetentionTest, DailyTotalsStayWithinTheWindowAndBalancesSurviveARestart) {
  FakeClock clock{kNow};
  InMemoryLedgerStore store;
  auto start = [&] {
    auto ledger = std::make_unique<Ledger>(clock, store, TestRates(), Ledger::Options{},
                                           GroupCommitter::Options{std::chrono::milliseconds{1}, 100});
    ledger->UpsertBudget(MakeBudget("daily", {{"limit", {{"amount", "10"}}}, {"period", "Day"}}));
    return ledger;
  };
  auto ledger = start();
  constexpr int kDays = 150;
  // At most the two calendar months of the FOCUS window (62 days), and today's entry.
  constexpr size_t kBound = 63;
  size_t most = 0;
  for (int day = 0; day < kDays; ++day) {
    const std::string n = std::to_string(day);
    // One run a day, so each day's spend is a total of its own.
    ASSERT_TRUE(CommitAndWait(*ledger, MakeCaller("run-" + n, "payments", "alice"), "r-" + n,
                              Commitment("c" + n, 1'000 + day))
                    .ok());
    clock.Advance(hours{24});
    const core::SysSeconds now = std::chrono::floor<seconds>(clock.Now());
    ASSERT_TRUE(store.Compact({now - minutes{2}, now - hours{1}, ledger->RetainTotalsFrom()}).ok());
    most = std::max(most, store.Load()->size());
  }
  EXPECT_LE(most, kBound);
  EXPECT_GE(most, kBound - 4);  // the window really holds about two months
  const core::SysSeconds retained = ledger->RetainTotalsFrom();
  const std::vector<LedgerEntry> kept = store.Load().value();
  for (const LedgerEntry& entry : kept) {
    EXPECT_GT(entry.at + FoldBucket{1}, retained);
  }
  const BudgetSnapshot before = *ledger->Budget("daily");
  ASSERT_EQ(before.history.size(), BudgetState::kHistory);
  ledger = start();
  ledger->Recover(kept);
  const BudgetSnapshot after = *ledger->Budget("daily");
  EXPECT_EQ(after.spent, before.spent);
  ASSERT_EQ(after.history.size(), before.history.size());
  for (size_t i = 0; i < before.history.size(); ++i) {
    EXPECT_EQ(after.history[i].start, before.history[i].start);
    EXPECT_EQ(after.history[i].spent, before.history[i].spent);
  }
}

}  // namespace
}  // namespace agentbudget::authority
