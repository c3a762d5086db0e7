#include "operator/showback.h"

#include <chrono>

#include "core/showback_html.h"
#include "operator/authority/focus_export.h"
#include "operator/authority/workload_spend.h"
#include "operator/spend_request.h"

namespace agentbudget::op {
namespace {

core::SysSeconds NextMonth(core::SysSeconds month_start) {
  return authority::MonthStart(month_start + std::chrono::days(32));
}

// A budget's report: its snapshot's figures and its spend accrued from the entries that
// charged it in its current period.
core::ShowbackBudget BudgetOf(const authority::BudgetSnapshot& snapshot,
                              const std::vector<authority::LedgerEntry>& counted,
                              core::SysSeconds now) {
  core::ShowbackBudget budget;
  budget.name = snapshot.name;
  budget.limit = snapshot.limit;
  budget.per_key = snapshot.per_key;
  budget.window = snapshot.window;
  budget.spent = snapshot.spent;
  budget.forecast = snapshot.forecast;
  budget.burn_per_hour = snapshot.burn_per_hour;
  budget.utilization = snapshot.utilization;
  budget.pressure = std::string(core::PressureName(snapshot.pressure));
  budget.keys = snapshot.keys;
  budget.keys_over_alert = snapshot.keys_over_alert;
  for (const auto& key : snapshot.top_keys) {
    budget.top_keys.push_back({key.key, key.spent, key.utilization});
  }
  const bool tokens = snapshot.limit.unit == core::LimitUnit::kTokens;
  std::vector<std::pair<core::SysSeconds, int64_t>> amounts;
  for (const authority::LedgerEntry& entry : counted) {
    for (const authority::Charge& charge : entry.charges) {
      if (charge.budget == snapshot.name) {
        amounts.emplace_back(entry.at, tokens ? entry.tokens : entry.cost_micros);
        break;
      }
    }
  }
  budget.cumulative = core::CumulativeSteps(amounts, snapshot.window, now);
  return budget;
}

}  // namespace

core::Showback BuildShowback(const std::vector<authority::LedgerEntry>& entries,
                             const core::RateCard& rates, core::SysSeconds now,
                             const std::vector<authority::BudgetSnapshot>* budgets,
                             const authority::LedgerStats* stats) {
  const core::SysSeconds from = authority::MonthStart(now);
  const core::PeriodWindow month{from, NextMonth(from)};
  core::Showback report = core::ShowbackOf(
      authority::FocusExportRows(entries, month.start, month.end, rates), month, now);
  // The same entries as the export counts: a key stored twice counts once.
  std::vector<authority::LedgerEntry> counted;
  authority::FirstCopies first_copies;
  authority::WorkloadSpendTally workloads(rates);
  for (const authority::LedgerEntry& entry : entries) {
    if (first_copies.Counts(entry)) {
      workloads.Add(entry);
      counted.push_back(entry);
    }
  }
  for (const auto& [name, spend] : workloads.Current(now)) {
    report.workloads.emplace(name, spend.Outcomes());
  }
  if (budgets != nullptr) {
    for (const authority::BudgetSnapshot& snapshot : *budgets) {
      report.budgets.push_back(BudgetOf(snapshot, counted, now));
    }
  }
  if (stats != nullptr) {
    report.degraded = core::DegradedShare(stats->allowed, stats->degraded);
  }
  return report;
}

http::Response ServeShowback(const http::Request& request, const ShowbackSources& sources) {
  const core::SysSeconds now = std::chrono::floor<std::chrono::seconds>(sources.clock.Now());
  const core::SysSeconds from = authority::MonthStart(now);
  auto visible = ReadVisibleSpend(request, sources.store, sources.access, from, NextMonth(from));
  if (!visible.ok()) {
    return http::Response::FromError(visible.error());
  }
  std::vector<authority::BudgetSnapshot> budgets;
  authority::LedgerStats stats;
  if (visible->everywhere) {
    budgets = sources.ledger.Budgets();
    stats = sources.ledger.stats();
  }
  const core::Showback report =
      BuildShowback(visible->entries, sources.rates, now, visible->everywhere ? &budgets : nullptr,
                    visible->everywhere ? &stats : nullptr);
  if (QueryParameter(request.query, "format") == "json") {
    return http::Response::Json(200, core::ShowbackJson(report));
  }
  http::Response response = http::Response::Text(200, core::ShowbackHtml(report));
  response.headers["Content-Type"] = "text/html; charset=utf-8";
  return response;
}

void AddShowbackRoute(http::Router& router, const ShowbackSources& sources) {
  router.Add("GET", "/v1/showback",
             [sources](const http::Request& request) { return ServeShowback(request, sources); });
}

}  // namespace agentbudget::op
