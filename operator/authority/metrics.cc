#include "operator/authority/metrics.h"

namespace agentbudget::authority {
namespace {

double Display(const core::BudgetLimit& limit, int64_t amount) {
  if (limit.unit == core::LimitUnit::kTokens) {
    return static_cast<double>(amount);
  }
  return static_cast<double>(amount) / static_cast<double>(core::Money::kMicrosPerUnit);
}

}  // namespace

AuthorityMetrics::AuthorityMetrics(std::shared_ptr<prometheus::Registry> registry)
    : registry_(std::move(registry)),
      usd_(Register("usd")),
      tokens_(Register("tokens")),
      utilization_(&prometheus::BuildGauge()
                        .Name("agentbudget_budget_utilization_ratio")
                        .Help("Committed spend over the limit (fullest envelope for perKey); reservations apart.")
                        .Register(*registry_)),
      pressure_(&prometheus::BuildGauge()
                     .Name("agentbudget_budget_pressure_level")
                     .Help("0 None, 1 Degrade, 2 Queue, 3 Exhausted.")
                     .Register(*registry_)),
      reservations_(&prometheus::BuildCounter()
                         .Name("agentbudget_reservation_decisions_total")
                         .Help("Reservation decisions by outcome.")
                         .Register(*registry_)),
      commits_(&prometheus::BuildCounter()
                    .Name("agentbudget_ledger_commits_total")
                    .Help("Durable ledger entries by kind (commit, late_commit, event).")
                    .Register(*registry_)),
      ledger_events_(&prometheus::BuildCounter()
                          .Name("agentbudget_ledger_outcomes_total")
                          .Help("Expired reservations, idempotent replays and conflicts, "
                                "Observe-mode would-be denials.")
                          .Register(*registry_)),
      pending_(&prometheus::BuildGauge()
                    .Name("agentbudget_ledger_pending_commits")
                    .Help("Commits applied but not yet durable (awaiting group commit).")
                    .Register(*registry_)),
      spend_(&prometheus::BuildCounter()
                  .Name("agentbudget_spend_usd_total")
                  .Help("Committed spend by namespace, team, workflow and model (direct "
                        "debits: their kind).")
                  .Register(*registry_)),
      tokens_by_type_(&prometheus::BuildCounter()
                           .Name("agentbudget_tokens_total")
                           .Help("Committed tokens by namespace, team, workflow, model and "
                                 "type (gen_ai.token.type: input, output).")
                           .Register(*registry_)) {}

AuthorityMetrics::Unit AuthorityMetrics::Register(const std::string& unit) {
  auto gauge = [&](const std::string& name, const std::string& help) {
    return &prometheus::BuildGauge()
                .Name("agentbudget_budget_" + name + "_" + unit)
                .Help(help)
                .Register(*registry_);
  };
  return {gauge("limit", "The budget's limit per period."),
          gauge("spent", "Committed spend this period."),
          gauge("reserved", "Spend held by in-flight reservations."),
          gauge("burn_rate_per_hour", "Spend over the last hour, per hour."),
          gauge("forecast", "Projected spend at the end of the period.")};
}

void AuthorityMetrics::SetCounter(prometheus::Family<prometheus::Counter>& family,
                                  const std::map<std::string, std::string>& labels,
                                  double value) {
  prometheus::Counter& counter = family.Add(labels);
  const double delta = value - counter.Value();
  if (delta > 0) {
    counter.Increment(delta);
  }
}

void AuthorityMetrics::Update(const std::vector<BudgetSnapshot>& budgets, const LedgerStats& stats,
                              const std::map<SpendKey, SpendTotals>& spend,
                              size_t pending_commits) {
  MutexLock lock(mu_);
  std::map<std::string, bool> present;
  for (const BudgetSnapshot& budget : budgets) {
    const bool tokens = budget.limit.unit == core::LimitUnit::kTokens;
    present[budget.name] = tokens;
    const Unit& unit = tokens ? tokens_ : usd_;
    const std::map<std::string, std::string> labels = {{"budget", budget.name}};
    unit.limit->Add(labels).Set(Display(budget.limit, budget.limit.amount));
    unit.spent->Add(labels).Set(Display(budget.limit, budget.spent));
    unit.reserved->Add(labels).Set(Display(budget.limit, budget.reserved));
    unit.burn->Add(labels).Set(Display(budget.limit, budget.burn_per_hour));
    unit.forecast->Add(labels).Set(Display(budget.limit, budget.forecast));
    utilization_->Add(labels).Set(budget.utilization / 100.0);
    pressure_->Add(labels).Set(static_cast<double>(budget.pressure));
  }
  for (const auto& [name, tokens] : budgets_) {
    auto still = present.find(name);
    if (still != present.end() && still->second == tokens) {
      continue;
    }
    const Unit& unit = tokens ? tokens_ : usd_;
    const std::map<std::string, std::string> labels = {{"budget", name}};
    for (auto* family : {unit.limit, unit.spent, unit.reserved, unit.burn, unit.forecast,
                         utilization_, pressure_}) {
      if (still == present.end() || (family != utilization_ && family != pressure_)) {
        family->Remove(&family->Add(labels));
      }
    }
  }
  budgets_ = std::move(present);
  SetCounter(*reservations_, {{"decision", "allow"}}, stats.allowed);
  SetCounter(*reservations_, {{"decision", "degrade"}}, stats.degraded);
  SetCounter(*reservations_, {{"decision", "deny"}}, stats.denied);
  SetCounter(*commits_, {{"kind", "commit"}}, stats.commits - stats.late_commits);
  SetCounter(*commits_, {{"kind", "late_commit"}}, stats.late_commits);
  SetCounter(*commits_, {{"kind", "event"}}, stats.events);
  SetCounter(*ledger_events_, {{"outcome", "expired"}}, stats.expired);
  SetCounter(*ledger_events_, {{"outcome", "replay"}}, stats.replays);
  SetCounter(*ledger_events_, {{"outcome", "conflict"}}, stats.conflicts);
  SetCounter(*ledger_events_, {{"outcome", "observed_denial"}}, stats.observed_denials);
  pending_->Add({}).Set(static_cast<double>(pending_commits));
  for (const auto& [key, totals] : spend) {
    std::map<std::string, std::string> labels = {{"namespace", key.namespace_name},
                                                 {"team", key.team},
                                                 {"workflow", key.workflow},
                                                 {"model", key.model}};
    SetCounter(*spend_, labels, static_cast<double>(totals.cost_micros) /
                                    static_cast<double>(core::Money::kMicrosPerUnit));
    labels["type"] = "input";
    SetCounter(*tokens_by_type_, labels, static_cast<double>(totals.input_tokens));
    labels["type"] = "output";
    SetCounter(*tokens_by_type_, labels, static_cast<double>(totals.output_tokens));
  }
}

}  // namespace agentbudget::authority
