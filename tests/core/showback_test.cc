#include "core/showback.h"

#include <gtest/gtest.h>

#include "core/showback_html.h"

namespace agentbudget::core {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::seconds;

// 2026-11-01T00:00:00Z and the month it starts.
const SysSeconds kMonth{seconds{1'793'491'200}};
const PeriodWindow kPeriod{kMonth, kMonth + days(30)};

FocusRow Row(const std::string& team, const std::string& user, const std::string& run,
             int64_t micros, int64_t tokens, SysSeconds hour) {
  FocusRow row;
  row.hour = hour;
  row.run = run;
  row.namespace_name = "agents";
  row.attribution = {{"team", team}, {"workflow", "bugfix"}, {"user", user}};
  row.model = "claude-sonnet-4-5";
  row.quantity = tokens;
  row.billed_micros = micros;
  return row;
}

TEST(ShowbackTest, SumsTheRowsOfThePeriodByTeamEngineerAndDay) {
  const std::vector<FocusRow> rows = {
      Row("payments", "alice", "r1", 1'500'000, 100, kMonth + hours(1)),
      Row("payments", "bob", "r2", 250'000, 50, kMonth + days(1)),
      Row("search", "alice", "r3", 3'000'000, 70, kMonth + days(1) + hours(3)),
      Row("search", "alice", "r4", 9'000'000, 1, kMonth - hours(1)),  // before the period
  };
  const Showback report = ShowbackOf(rows, kPeriod, kMonth + days(2));
  EXPECT_EQ(report.total_micros, 4'750'000);
  EXPECT_EQ(report.tokens, 220);
  EXPECT_EQ(report.runs, 3);
  ASSERT_EQ(report.by_team.size(), 2U);
  EXPECT_EQ(report.by_team[0].name, "search");
  EXPECT_EQ(report.by_team[0].spend_micros, 3'000'000);
  EXPECT_EQ(report.by_team[1].spend_micros, 1'750'000);
  EXPECT_EQ(report.by_team[1].runs, 2);
  ASSERT_EQ(report.by_engineer.size(), 2U);
  EXPECT_EQ(report.by_engineer[0].name, "alice");
  EXPECT_EQ(report.by_engineer[0].spend_micros, 4'500'000);
  EXPECT_EQ(report.daily_micros, (std::vector<int64_t>{1'500'000, 3'250'000}));
}

TEST(ShowbackTest, GroupsAreBoundedAndStillSumToTheTotal) {
  std::vector<FocusRow> rows;
  for (int i = 0; i < 500; ++i) {
    rows.push_back(Row("team-" + std::to_string(i), "u" + std::to_string(i),
                       "r" + std::to_string(i), 1000 + i, 1, kMonth + hours(1)));
  }
  const Showback report = ShowbackOf(rows, kPeriod, kMonth + days(1));
  ASSERT_EQ(report.by_team.size(), Showback::kGroups);
  ASSERT_EQ(report.by_engineer.size(), Showback::kGroups);
  EXPECT_EQ(report.by_team.front().name, "team-499");
  EXPECT_EQ(report.by_team.back().name, "other (481)");
  EXPECT_EQ(report.by_team.back().runs, 481);
  int64_t sum = 0;
  for (const ShowbackGroup& group : report.by_team) {
    sum += group.spend_micros;
  }
  EXPECT_EQ(sum, report.total_micros);
}

TEST(ShowbackTest, DaysPastTheChartedOnesStayInTheTotal) {
  const PeriodWindow long_period{kMonth, kMonth + days(400)};
  const Showback report =
      ShowbackOf({Row("a", "u", "r", 7, 0, kMonth + days(300))}, long_period, kMonth + days(301));
  EXPECT_TRUE(report.daily_micros.empty());
  EXPECT_EQ(report.total_micros, 7);
}

TEST(ShowbackTest, CumulativeStepsAccrueUpToNow) {
  const PeriodWindow day{kMonth, kMonth + days(1)};
  const std::vector<std::pair<SysSeconds, int64_t>> amounts = {
      {kMonth + hours(1), 5}, {kMonth + hours(5), 7}, {kMonth - hours(1), 100}};
  const std::vector<int64_t> steps = CumulativeSteps(amounts, day, kMonth + hours(6));
  ASSERT_EQ(steps.size(), ShowbackBudget::kSteps);
  EXPECT_EQ(steps.front(), 0);
  EXPECT_EQ(steps[8], 5);  // hour 1 of 6 in 48 steps: step 8
  EXPECT_EQ(steps.back(), 12);
  EXPECT_TRUE(CumulativeSteps(amounts, day, kMonth).empty());
}

TEST(ShowbackTest, JsonCarriesTheRunFiguresAsDefinedOnce) {
  Showback report =
      ShowbackOf({Row("a", "u", "r", 3'000'000, 10, kMonth + hours(1))}, kPeriod, kMonth + days(1));
  RunOutcomes runs;
  runs.spend_micros = 3'000'000;
  runs.finished = 3;
  runs.succeeded = 2;
  report.workloads["agents/bugfix"] = runs;
  report.degraded = DegradedShare(3, 1);
  const nlohmann::json json = ShowbackJson(report);
  EXPECT_EQ(json["total"], "3");
  EXPECT_EQ(json["byTeam"][0]["share"], "100.0");
  EXPECT_EQ(json["workloads"][0]["costPerSuccessfulRun"], "1.5");
  EXPECT_EQ(json["workloads"][0]["costPerMergedPr"], nullptr);
  EXPECT_EQ(json["workloads"][0]["successRate"], "66.7");
  EXPECT_EQ(json["degradedShare"], "25.0");
  EXPECT_EQ(json["daily"][0]["day"], "2026-11-01");
}

TEST(ShowbackTest, PerKeyBudgetsShowTheLimitPerKeyAndATotalLabelledAsTotal) {
  Showback report = ShowbackOf({}, kPeriod, kMonth + days(1));
  ShowbackBudget budget;
  budget.name = "per-engineer-daily";
  budget.limit.amount = 2'500'000;
  budget.per_key = "user";
  budget.window = {kMonth, kMonth + days(1) * 2};
  budget.spent = 5'940'000;
  budget.forecast = 11'000'000;
  budget.utilization = 84;
  budget.pressure = "Degrade";
  budget.keys = 4;
  budget.keys_over_alert = {{50, 3}, {80, 1}};
  budget.top_keys = {{"alice", 2'100'000, 84}};
  budget.cumulative = {1'000'000, 5'940'000};
  report.budgets.push_back(budget);
  const nlohmann::json json = ShowbackJson(report);
  EXPECT_EQ(json["budgets"][0]["perKey"], "user");
  EXPECT_EQ(json["budgets"][0]["totalSpent"], "5.94");
  EXPECT_EQ(json["budgets"][0]["keysOverAlert"][1]["keys"], 1);
  const std::string html = ShowbackHtml(report);
  EXPECT_NE(
      html.find(
          "Limit per user: <span class=\"figure\" data-figure=\"limit\" data-value=\"2.5 USD\""),
      std::string::npos);
  EXPECT_NE(html.find("Total spent (all 4 keys)"), std::string::npos);
  EXPECT_NE(html.find("data-figure=\"keysOver80\" data-value=\"1\""), std::string::npos);
}

TEST(ShowbackTest, TheHtmlIsSelfContainedAndEscapesLabels) {
  const Showback report = ShowbackOf(
      {Row("<script>alert(1)</script>", "o'neil & \"co\"", "r", 10, 1, kMonth + hours(1))}, kPeriod,
      kMonth + days(1));
  const std::string html = ShowbackHtml(report);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("o&#39;neil &amp; &quot;co&quot;"), std::string::npos);
  for (const char* external : {"http://", "https://", " src=", "<link", "@import", "url("}) {
    EXPECT_EQ(html.find(external), std::string::npos) << external;
  }
  EXPECT_NE(html.find("data-figure=\"total\" data-usd=\"0.00001\""), std::string::npos);
}

}  // namespace
}  // namespace agentbudget::core
