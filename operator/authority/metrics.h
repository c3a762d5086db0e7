#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "common/mutex.h"
#include "operator/authority/budget_state.h"
#include "operator/authority/ledger.h"

namespace agentbudget::authority {

// The authority's Prometheus metrics (docs/metrics.md): per budget (label `budget`, bounded by
// the number of AgentBudgets; never run ids) limit, spent, reserved, burn rate, forecast in
// `_usd` or `_tokens` families by the budget's unit, utilization ratio and pressure level;
// reservation decisions, commits, expiries and idempotency outcomes as counters; pending
// commits as a gauge; committed spend and tokens (by OpenTelemetry GenAI token type) by
// namespace, team, workflow and model as counters since the process started. Thread-safe.
class AuthorityMetrics {
 public:
  explicit AuthorityMetrics(std::shared_ptr<prometheus::Registry> registry);

  // Brings every metric up to date; budgets no longer present lose their series.
  void Update(const std::vector<BudgetSnapshot>& budgets, const LedgerStats& stats,
              const std::map<SpendKey, SpendTotals>& spend, size_t pending_commits)
      EXCLUDES(mu_);

 private:
  struct Unit {
    prometheus::Family<prometheus::Gauge>* limit;
    prometheus::Family<prometheus::Gauge>* spent;
    prometheus::Family<prometheus::Gauge>* reserved;
    prometheus::Family<prometheus::Gauge>* burn;
    prometheus::Family<prometheus::Gauge>* forecast;
  };
  Unit Register(const std::string& unit);
  void SetCounter(prometheus::Family<prometheus::Counter>& family,
                  const std::map<std::string, std::string>& labels, double value)
      REQUIRES(mu_);

  std::shared_ptr<prometheus::Registry> registry_;
  Mutex mu_;
  Unit usd_;
  Unit tokens_;
  prometheus::Family<prometheus::Gauge>* utilization_;
  prometheus::Family<prometheus::Gauge>* pressure_;
  prometheus::Family<prometheus::Counter>* reservations_;
  prometheus::Family<prometheus::Counter>* commits_;
  prometheus::Family<prometheus::Counter>* ledger_events_;
  prometheus::Family<prometheus::Gauge>* pending_;
  prometheus::Family<prometheus::Counter>* spend_;
  prometheus::Family<prometheus::Counter>* tokens_by_type_;
  std::map<std::string, bool> budgets_ GUARDED_BY(mu_);  // name → is a token budget
};

}  // namespace agentbudget::authority
