#include "core/showback.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "core/money.h"
#include "core/time_format.h"

namespace agentbudget::core {
namespace {

std::string LabelOf(const Labels& labels, const std::string& key) {
  const auto found = labels.find(key);
  return found == labels.end() || found->second.empty() ? "-" : found->second;
}

// Groups summed while reading rows: spend, tokens and the runs seen.
struct Accumulator {
  int64_t spend_micros = 0;
  int64_t tokens = 0;
  std::set<std::string> runs;
};

// The groups largest first (by spend, then name), at most Showback::kGroups: the rest as
// one "other" group.
std::vector<ShowbackGroup> Largest(const std::map<std::string, Accumulator>& groups) {
  std::vector<ShowbackGroup> sorted;
  sorted.reserve(groups.size());
  for (const auto& [name, group] : groups) {
    sorted.push_back(
        {name, group.spend_micros, group.tokens, static_cast<int64_t>(group.runs.size())});
  }
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.spend_micros != b.spend_micros ? a.spend_micros > b.spend_micros : a.name < b.name;
  });
  if (sorted.size() <= Showback::kGroups) {
    return sorted;
  }
  ShowbackGroup other{"other (" + std::to_string(sorted.size() - Showback::kGroups + 1) + ")"};
  for (size_t i = Showback::kGroups - 1; i < sorted.size(); ++i) {
    other.spend_micros = SaturatingAdd(other.spend_micros, sorted[i].spend_micros);
    other.tokens = SaturatingAdd(other.tokens, sorted[i].tokens);
    other.runs = SaturatingAdd(other.runs, sorted[i].runs);
  }
  sorted.resize(Showback::kGroups - 1);
  sorted.push_back(std::move(other));
  return sorted;
}

nlohmann::json Usd(int64_t micros) { return Money::FromMicros(micros).ToString(); }

nlohmann::json OrNull(const std::optional<std::string>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json OrNull(const std::optional<Money>& value) {
  return value ? nlohmann::json(value->ToString()) : nlohmann::json(nullptr);
}

nlohmann::json Groups(const std::vector<ShowbackGroup>& groups, int64_t total) {
  nlohmann::json out = nlohmann::json::array();
  for (const ShowbackGroup& group : groups) {
    out.push_back({{"name", group.name},
                   {"spend", Usd(group.spend_micros)},
                   {"tokens", group.tokens},
                   {"runs", group.runs},
                   {"share", OrNull(Share{group.spend_micros, total}.Percent())}});
  }
  return out;
}

}  // namespace

Showback ShowbackOf(const std::vector<FocusRow>& rows, const PeriodWindow& period, SysSeconds now) {
  Showback report;
  report.period = period;
  report.now = now;
  std::map<std::string, Accumulator> team, workflow, engineer, model;
  std::set<std::string> runs;
  const auto first_day = std::chrono::floor<std::chrono::days>(period.start);
  for (const FocusRow& row : rows) {
    if (!period.Contains(row.hour)) {
      continue;
    }
    const int64_t tokens = row.event ? 0 : row.quantity;
    report.total_micros = SaturatingAdd(report.total_micros, row.billed_micros);
    report.tokens = SaturatingAdd(report.tokens, tokens);
    runs.insert(row.run);
    for (auto [groups, name] :
         {std::pair{&team, LabelOf(row.attribution, "team")},
          std::pair{&workflow, LabelOf(row.attribution, "workflow")},
          std::pair{&engineer, LabelOf(row.attribution, "user")},
          std::pair{&model, row.model.empty() ? std::string("-") : row.model}}) {
      Accumulator& group = (*groups)[name];
      group.spend_micros = SaturatingAdd(group.spend_micros, row.billed_micros);
      group.tokens = SaturatingAdd(group.tokens, tokens);
      group.runs.insert(row.run);
    }
    const auto day = (std::chrono::floor<std::chrono::days>(row.hour) - first_day).count();
    if (day >= 0 && static_cast<size_t>(day) < Showback::kDays) {
      if (report.daily_micros.size() <= static_cast<size_t>(day)) {
        report.daily_micros.resize(static_cast<size_t>(day) + 1, 0);
      }
      report.daily_micros[static_cast<size_t>(day)] =
          SaturatingAdd(report.daily_micros[static_cast<size_t>(day)], row.billed_micros);
    }
  }
  report.runs = static_cast<int64_t>(runs.size());
  report.by_team = Largest(team);
  report.by_workflow = Largest(workflow);
  report.by_engineer = Largest(engineer);
  report.by_model = Largest(model);
  return report;
}

std::vector<int64_t> CumulativeSteps(const std::vector<std::pair<SysSeconds, int64_t>>& amounts,
                                     const PeriodWindow& window, SysSeconds now) {
  const SysSeconds end = std::min(now, window.end);
  if (end <= window.start) {
    return {};
  }
  const auto span = (end - window.start).count();
  const size_t steps = std::min<size_t>(ShowbackBudget::kSteps, static_cast<size_t>(span));
  std::vector<int64_t> per_step(steps, 0);
  for (const auto& [at, amount] : amounts) {
    if (at < window.start || at >= end) {
      continue;
    }
    const auto offset = (at - window.start).count();
    const size_t step =
        static_cast<size_t>(static_cast<Int128>(offset) * static_cast<Int128>(steps) / span);
    per_step[step] = SaturatingAdd(per_step[step], amount);
  }
  int64_t running = 0;
  for (int64_t& value : per_step) {
    running = SaturatingAdd(running, value);
    value = running;
  }
  return per_step;
}

nlohmann::json ShowbackJson(const Showback& report) {
  nlohmann::json daily = nlohmann::json::array();
  const auto first_day = std::chrono::floor<std::chrono::days>(report.period.start);
  for (size_t day = 0; day < report.daily_micros.size(); ++day) {
    daily.push_back({{"day", FormatRfc3339(first_day + std::chrono::days(day)).substr(0, 10)},
                     {"spend", Usd(report.daily_micros[day])}});
  }
  nlohmann::json budgets = nlohmann::json::array();
  for (const ShowbackBudget& budget : report.budgets) {
    nlohmann::json item = {{"name", budget.name},
                           {"limit", budget.limit.Display()},
                           {"periodStart", FormatRfc3339(budget.window.start)},
                           {"totalSpent", budget.limit.Format(budget.spent)},
                           {"forecast", budget.limit.Format(budget.forecast)},
                           {"burnRatePerHour", budget.limit.Format(budget.burn_per_hour)},
                           {"utilization", std::to_string(budget.utilization) + "%"},
                           {"pressure", budget.pressure}};
    if (budget.window.end != SysSeconds::max()) {
      item["periodEnd"] = FormatRfc3339(budget.window.end);
    }
    if (!budget.per_key.empty()) {
      item["perKey"] = budget.per_key;
      item["keys"] = budget.keys;
      nlohmann::json top = nlohmann::json::array();
      for (const auto& key : budget.top_keys) {
        top.push_back({{"key", key.key},
                       {"spent", budget.limit.Format(key.spent)},
                       {"utilization", std::to_string(key.utilization) + "%"}});
      }
      item["topKeys"] = std::move(top);
      nlohmann::json over = nlohmann::json::array();
      for (const auto& [threshold, keys] : budget.keys_over_alert) {
        over.push_back({{"threshold", std::to_string(threshold) + "%"}, {"keys", keys}});
      }
      item["keysOverAlert"] = std::move(over);
    }
    budgets.push_back(std::move(item));
  }
  nlohmann::json workloads = nlohmann::json::array();
  for (const auto& [name, runs] : report.workloads) {
    workloads.push_back({{"workload", name},
                         {"spend", Usd(runs.spend_micros)},
                         {"finishedRuns", runs.finished},
                         {"succeededRuns", runs.succeeded},
                         {"mergedRuns", runs.merged},
                         {"successRate", OrNull(SuccessRate(runs).Percent())},
                         {"costPerSuccessfulRun", OrNull(CostPerSuccessfulRun(runs))},
                         {"costPerMergedPr", OrNull(CostPerMergedPr(runs))},
                         {"tokenYield", OrNull(TokenYield(runs).Percent())}});
  }
  return {{"periodStart", FormatRfc3339(report.period.start)},
          {"periodEnd", FormatRfc3339(report.period.end)},
          {"generated", FormatRfc3339(report.now)},
          {"total", Usd(report.total_micros)},
          {"tokens", report.tokens},
          {"runs", report.runs},
          {"byTeam", Groups(report.by_team, report.total_micros)},
          {"byWorkflow", Groups(report.by_workflow, report.total_micros)},
          {"byEngineer", Groups(report.by_engineer, report.total_micros)},
          {"byModel", Groups(report.by_model, report.total_micros)},
          {"daily", std::move(daily)},
          {"budgets", std::move(budgets)},
          {"workloads", std::move(workloads)},
          {"degradedShare",
           report.degraded ? OrNull(report.degraded->Percent()) : nlohmann::json(nullptr)}};
}

}  // namespace agentbudget::core
