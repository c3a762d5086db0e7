#include "operator/workload_spend.h"

#include <gtest/gtest.h>

namespace agentbudget::operator_ {
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
  WorkloadSpendTally tally;
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

TEST(WorkloadSpendTest, OutcomeReportsMarkTheirRunWithoutSpend) {
  WorkloadSpendTally tally;
  LedgerEntry call = Call("review", "claude-sonnet-4-5", 300, kNoon);
  call.run = "run-1";
  call.tokens = 40;
  tally.Add(call);
  LedgerEntry report = Call("review", std::string(kOutcomeReport) + "Succeeded", 0, kNoon);
  report.kind = LedgerEntry::Kind::kEvent;
  report.run = "run-1";
  tally.Add(report);
  report.model = std::string(kOutcomeReport) + "reverted";
  tally.Add(report);
  const WorkloadSpend spend = tally.Current(kNoon).at("agents/review");
  EXPECT_EQ(spend.cost_micros, 300);
  EXPECT_EQ(spend.calls(), 1);
  const RunOutcome& run = spend.runs.at("run-1");
  EXPECT_EQ(run.cost_micros, 300);
  EXPECT_EQ(run.tokens, 40);
  EXPECT_EQ(run.ended, "Succeeded");
  EXPECT_EQ(run.ci, "reverted");
}

TEST(WorkloadSpendTest, ALaterMonthStartsAfreshAndAnEarlierOneIsIgnored) {
  WorkloadSpendTally tally;
  tally.Add(Call("review", "m", 100, kNovember - seconds{60}));
  tally.Add(Call("review", "m", 5, kNoon));
  tally.Add(Call("review", "m", 100, kNovember - seconds{30}));  // October, after November's
  EXPECT_EQ(tally.Current(kNoon).at("agents/review").cost_micros, 5);
  // December: November's spend is not this period's.
  EXPECT_TRUE(tally.Current(kNoon + days{4}).empty());
}

}  // namespace
}  // namespace agentbudget::operator_
