#include "operator/authority/workload_spend.h"

#include <gtest/gtest.h>

#include "tests/authority/ledger_test_support.h"

namespace agentbudget::authority {
namespace {

using std::chrono::days;
using std::chrono::seconds;

const core::SysSeconds kNoon{seconds{1'795'780'800}};  // 2026-11-27T12:00:00Z
const core::SysSeconds kNovember{seconds{1'793'491'200}};  // 2026-11-01T00:00:00Z

LedgerEntry Call(const std::string& workload, const std::string& model, int64_t micros,
                 core::SysSeconds at) {
  LedgerEntry entry;
  entry.kind = LedgerEntry::Kind::kCommit;
  entry.namespace_name = "agents";
  entry.attribution = {{"workload", workload}, {"model", model}};
  entry.model = model;
  entry.cost_micros = micros;
  entry.at = at;
  return entry;
}

TEST(WorkloadSpendTest, MonthStartIsTheFirstInstantOfTheUtcMonth) {
  EXPECT_EQ(MonthStart(kNoon), kNovember);
  EXPECT_EQ(MonthStart(kNovember), kNovember);
  EXPECT_EQ(MonthStart(kNovember - seconds{1}), kNovember - days{31});
}

TEST(WorkloadSpendTest, CountsSpendAndCallsByModelPerWorkload) {
  WorkloadSpendTally tally{TestRates()};
  tally.Add(Call("review", "claude-sonnet-4-5", 300, kNoon));
  tally.Add(Call("review", "claude-haiku-4-5", 20, kNoon));
  LedgerEntry folded = Call("review", "claude-haiku-4-5", 80, kNoon);
  folded.folded = 4;  // four calls compacted into one entry
  tally.Add(folded);
  LedgerEntry compute = Call("review", "compute", 1000, kNoon);
  compute.kind = LedgerEntry::Kind::kEvent;
  tally.Add(compute);
  tally.Add(Call("triage", "gpt-5.4", 7, kNoon));
  tally.Add(Call("", "gpt-5.4", 7, kNoon));  // no workload: not counted

  const auto current = tally.Current(kNoon);
  ASSERT_EQ(current.size(), 2U);
  const WorkloadSpend& review = current.at("agents/review");
  EXPECT_EQ(review.cost_micros, 1400);
  EXPECT_EQ(review.calls(), 6);
  EXPECT_EQ(review.calls_by_model.at("claude-haiku-4-5"), 5);
  EXPECT_FALSE(review.calls_by_model.contains("compute"));
  EXPECT_EQ(current.at("agents/triage").cost_micros, 7);
}

TEST(WorkloadSpendTest, EndedRunsSumTheRunsWithAnOutcomeReport) {
  WorkloadSpendTally tally{TestRates()};
  auto spend = [&](const std::string& run, int64_t micros, int64_t tokens) {
    LedgerEntry call = Call("review", "claude-sonnet-4-5", micros, kNoon);
    call.run = run;
    call.tokens = tokens;
    tally.Add(call);
  };
  auto report = [&](const std::string& run, const std::string& outcome) {
    LedgerEntry entry = Call("review", std::string(kOutcomeReport) + outcome, 0, kNoon);
    entry.kind = LedgerEntry::Kind::kEvent;
    entry.run = run;
    tally.Add(entry);
  };
  spend("merged", 300, 30);
  report("merged", "Succeeded");
  report("merged", "merged");
  report("reverted", "Succeeded");
  spend("reverted", 100, 10);  // spend after the report counts too
  report("reverted", "reverted");
  spend("failed", 400, 40);
  report("failed", "Failed");
  spend("running", 50, 5);
  const WorkloadSpend month = tally.Current(kNoon).at("agents/review");
  EXPECT_EQ(month.cost_micros, 850);
  EXPECT_EQ(month.calls(), 4);  // reports are no calls
  EXPECT_EQ(month.ended.finished, 3);
  EXPECT_EQ(month.ended.succeeded, 2);
  EXPECT_EQ(month.ended.merged, 1);
  EXPECT_EQ(month.ended.good_tokens, 30);
  EXPECT_EQ(month.ended.all_tokens, 80);
  // The whole month's spend, the running and failed runs' included, over the successes.
  EXPECT_EQ(core::CostPerSuccessfulRun(month.Outcomes()), core::Money::FromMicros(425));
  EXPECT_EQ(core::CostPerMergedPr(month.Outcomes()), core::Money::FromMicros(850));
}

TEST(WorkloadSpendTest, ALaterMonthStartsAfreshAndAnEarlierOneIsIgnored) {
  WorkloadSpendTally tally{TestRates()};
  tally.Add(Call("review", "m", 100, kNovember - seconds{60}));
  tally.Add(Call("review", "m", 5, kNoon));
  tally.Add(Call("review", "m", 100, kNovember - seconds{30}));  // October, after November's
  EXPECT_EQ(tally.Current(kNoon).at("agents/review").cost_micros, 5);
  // December: November's spend is not this period's.
  EXPECT_TRUE(tally.Current(kNoon + days{4}).empty());
}

// Runs and models are tallied per month: a month's runs go when the next month's first
// entry arrives, and invented model names are one "other".
TEST(WorkloadSpendTest, AFloodOfRunsAndModelsIsBoundedByTheMonthAndTheRateCard) {
  WorkloadSpendTally tally{TestRates()};
  for (int i = 0; i < 5000; ++i) {
    LedgerEntry call = Call("review", "invented-" + std::to_string(i), 1, kNoon);
    call.run = "run-" + std::to_string(i);
    tally.Add(call);
  }
  EXPECT_EQ(tally.runs(), 5000U);
  EXPECT_EQ(tally.Current(kNoon).at("agents/review").calls_by_model,
            (std::map<std::string, int64_t>{{"other", 5000}}));
  LedgerEntry december = Call("review", "claude-haiku-4-5-20251001", 1, kNoon + days{10});
  tally.Add(december);
  EXPECT_EQ(tally.runs(), 1U);
  EXPECT_EQ(tally.Current(kNoon + days{10}).at("agents/review").calls_by_model,
            (std::map<std::string, int64_t>{{"claude-haiku-4-5", 1}}));
}

}  // namespace
}  // namespace agentbudget::authority
