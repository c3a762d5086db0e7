#include "operator/authority/workload_spend.h"

#include <algorithm>
#include <chrono>

#include "core/money.h"

namespace agentbudget::authority {

int64_t WorkloadSpend::calls() const {
  int64_t total = 0;
  for (const auto& [model, count] : calls_by_model) {
    total = core::SaturatingAdd(total, count);
  }
  return total;
}

core::RunOutcomes WorkloadSpend::Outcomes() const {
  return {.spend_micros = cost_micros,
          .finished = ended.finished,
          .succeeded = ended.succeeded,
          .merged = ended.merged,
          .good_tokens = ended.good_tokens,
          .all_tokens = ended.all_tokens};
}

core::SysSeconds MonthStart(core::SysSeconds instant) {
  const std::chrono::year_month_day day{std::chrono::floor<std::chrono::days>(instant)};
  return std::chrono::sys_days{day.year() / day.month() / 1};
}

void WorkloadSpendTally::Add(const LedgerEntry& entry) {
  const auto workload = entry.attribution.find("workload");
  if (workload == entry.attribution.end() || workload->second.empty()) {
    return;
  }
  const core::SysSeconds month = MonthStart(entry.at);
  Month& current = by_workload_[entry.namespace_name + "/" + workload->second];
  if (month < current.spend.month) {
    return;
  }
  if (month > current.spend.month) {
    current = Month();
    current.spend.month = month;
  }
  Run& run = current.runs[entry.run];
  if (entry.IsReport() && entry.model.starts_with(kOutcomeReport)) {
    const std::string outcome = entry.model.substr(std::string_view(kOutcomeReport).size());
    (outcome == "Succeeded" || outcome == "Failed" ? run.ended : run.ci) = outcome;
    return;
  }
  WorkloadSpend& spend = current.spend;
  spend.cost_micros = core::SaturatingAdd(spend.cost_micros, entry.cost_micros);
  run.cost_micros = core::SaturatingAdd(run.cost_micros, entry.cost_micros);
  run.tokens = core::SaturatingAdd(run.tokens, entry.tokens);
  if (entry.kind == LedgerEntry::Kind::kCommit) {
    int64_t& calls = spend.calls_by_model[rates_->BoundedId(entry.model)];
    calls = core::SaturatingAdd(calls, std::max<int64_t>(entry.folded, 1));
  }
}

size_t WorkloadSpendTally::runs() const {
  size_t total = 0;
  for (const auto& [workload, month] : by_workload_) {
    total += month.runs.size();
  }
  return total;
}

std::map<std::string, WorkloadSpend> WorkloadSpendTally::Current(core::SysSeconds now) const {
  const core::SysSeconds month = MonthStart(now);
  std::map<std::string, WorkloadSpend> current;
  for (const auto& [workload, tally] : by_workload_) {
    if (tally.spend.month != month) {
      continue;
    }
    WorkloadSpend spend = tally.spend;
    EndedRuns& ended = spend.ended;
    for (const auto& [id, run] : tally.runs) {
      if (run.ended.empty()) {
        continue;
      }
      ++ended.finished;
      ended.all_tokens = core::SaturatingAdd(ended.all_tokens, run.tokens);
      if (run.ended != "Succeeded") {
        continue;
      }
      ++ended.succeeded;
      if (run.ci == "merged") {
        ++ended.merged;
      }
      if (run.ci != "abandoned" && run.ci != "reverted") {
        ended.good_tokens = core::SaturatingAdd(ended.good_tokens, run.tokens);
      }
    }
    current.emplace(workload, std::move(spend));
  }
  return current;
}

}  // namespace agentbudget::authority
