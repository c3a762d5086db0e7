// showback-page OUTDIR: writes the showback report of a fixed ledger — a week of agent runs
// of three teams, four workflows, five engineers and two models, with their outcomes and two
// budgets — as OUTDIR/showback.html (the page the operator serves) and OUTDIR/focus.csv
// (the FOCUS export of the same entries), for the headless-browser test
// (showback_browser_test.py). Exit code 0, or 1 when OUTDIR cannot be written.
#include <chrono>
#include <fstream>
#include <iostream>

#include "core/showback_html.h"
#include "meter/default_rates.h"
#include "operator/authority/budget_state.h"
#include "operator/authority/focus_export.h"
#include "operator/showback.h"

namespace agentbudget::op {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;

// 2026-11-06T15:00:00Z: the report is read a few days into the month.
const core::SysSeconds kNow{std::chrono::seconds{1'793'977'200}};

core::BudgetSpec Spec(nlohmann::json object) { return core::ParseAgentBudget(object).value(); }

int Write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) {
    std::cerr << "showback-page: cannot write " << path << "\n";
    return 1;
  }
  return 0;
}

int Main(const std::string& dir) {
  const core::RateCard rates = core::RateCard::FromYaml(meter::DefaultRatesYaml()).value();
  const core::SysSeconds month = authority::MonthStart(kNow);
  authority::BudgetState org(
      Spec({{"metadata", {{"name", "org-monthly"}}}, {"spec", {{"limit", {{"amount", "40"}}}}}}),
      month);
  authority::BudgetState per_engineer(
      Spec({{"metadata", {{"name", "per-engineer-monthly"}}},
            {"spec", {{"limit", {{"amount", "2.5"}}}, {"perKey", "user"}}}}),
      month);
  const char* teams[] = {"payments", "search", "platform"};
  const char* workflows[] = {"nightly-bugfix", "pr-review", "migration", "triage"};
  const char* users[] = {"alice", "bob", "carol", "dave", "erin"};
  const char* models[] = {"claude-sonnet-4-5", "claude-haiku-4-5"};
  std::vector<authority::LedgerEntry> entries;
  for (int i = 0; i < 60; ++i) {
    const std::string team = teams[i % 3];
    const std::string workflow = workflows[i % 4];
    const std::string user = users[i % 5];
    authority::LedgerEntry entry;
    entry.id = "r-" + std::to_string(i);
    entry.run = workflow + "-" + std::to_string(i % 12);
    entry.idempotency_key = "k" + std::to_string(i);
    entry.namespace_name = team;
    entry.attribution = {
        {"team", team}, {"workflow", workflow}, {"user", user}, {"workload", workflow}};
    entry.model = models[i % 7 == 0 ? 1 : 0];
    entry.token_types.input = 20'000 + 1'733 * i;
    entry.token_types.cache_read = 5'000 * (i % 4);
    entry.token_types.output = 1'200 + 97 * i;
    entry.tokens =
        entry.token_types.input + entry.token_types.cache_read + entry.token_types.output;
    entry.cost_micros = 91'237 + 7'919 * i;
    entry.at = month + days(i % 6) + hours(9 + i % 6) + minutes(i);  // the last before kNow
    entry.charges = {{"org-monthly", ""}, {"per-engineer-monthly", user}};
    org.Spend("", entry.cost_micros, entry.at);
    per_engineer.Spend(user, entry.cost_micros, entry.at);
    entries.push_back(entry);
  }
  // How the runs ended: most succeeded, every fourth failed; CI merged some.
  for (int run = 0; run < 12; ++run) {
    const std::string workflow = workflows[run % 4];
    authority::LedgerEntry report;
    report.kind = authority::LedgerEntry::Kind::kEvent;
    report.id = "e-" + std::to_string(run);
    report.run = workflow + "-" + std::to_string(run);
    report.idempotency_key = "outcome-" + std::to_string(run);
    report.namespace_name = teams[run % 3];
    report.attribution = {{"workload", workflow}};
    report.model = std::string(authority::kOutcomeReport) + (run % 4 == 3 ? "Failed" : "Succeeded");
    report.at = kNow - hours(1);
    entries.push_back(report);
    if (run % 3 == 0) {
      report.id += "-ci";
      report.idempotency_key += "-ci";
      report.model = std::string(authority::kOutcomeReport) + "merged";
      entries.push_back(report);
    }
  }
  const std::vector<authority::BudgetSnapshot> budgets = {org.Snapshot(kNow),
                                                          per_engineer.Snapshot(kNow)};
  authority::LedgerStats stats;
  stats.allowed = 51;
  stats.degraded = 9;
  const core::Showback report = BuildShowback(entries, rates, kNow, &budgets, &stats);
  const std::string focus = authority::FocusExport(entries, report.period.start, report.period.end,
                                                   rates, core::FocusAccount{});
  return Write(dir + "/showback.html", core::ShowbackHtml(report)) |
         Write(dir + "/showback.json", core::ShowbackJson(report).dump(1)) |
         Write(dir + "/focus.csv", focus);
}

}  // namespace
}  // namespace agentbudget::op

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: showback-page OUTDIR\n";
    return 2;
  }
  return agentbudget::op::Main(argv[1]);
}
