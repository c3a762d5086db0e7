#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/budget_decision.h"
#include "core/budget_spec.h"
#include "core/pressure.h"

namespace agentbudget::authority {

// Spend held against one envelope.
struct EnvelopeTotals {
  int64_t spent = 0;
  int64_t reserved = 0;
};

// Totals of a finished period.
struct ClosedPeriod {
  core::SysSeconds start;
  core::SysSeconds end;
  int64_t spent = 0;
};

// A point-in-time view of a budget, for status, metrics and GET /v1/budgets.
struct BudgetSnapshot {
  std::string name;
  int64_t generation = 0;
  core::BudgetLimit limit;
  core::PeriodWindow window;
  int64_t spent = 0;     // all envelopes
  int64_t reserved = 0;  // all envelopes
  int64_t remaining = 0;
  // Committed spend over the limit in percent (for perKey budgets, the fullest envelope's):
  // what pressure and alerts are decided on. In-flight reservations are apart, in
  // `reserved` and `reserved_utilization` (the same envelope's), so status shows both
  // without the conditions following calls in and out of flight.
  int utilization = 0;
  int reserved_utilization = 0;
  int64_t burn_per_hour = 0;
  int64_t forecast = 0;
  core::Pressure pressure = core::Pressure::kNone;
  struct Key {
    std::string key;
    int64_t spent = 0;
    int utilization = 0;
  };
  // perKey budgets: the attribution key (else ""), the limit being per key; `spent` and
  // `forecast` are the total over every key.
  std::string per_key;
  std::vector<Key> top_keys;           // perKey budgets: up to kTopKeys largest spenders
  std::vector<ClosedPeriod> history;   // newest first
  int64_t keys = 0;                    // perKey envelopes this period
  // perKey budgets: for each alert threshold (ascending), the keys whose committed spend
  // reached it.
  std::vector<std::pair<int, int64_t>> keys_over_alert;

  static constexpr size_t kTopKeys = 20;
};

// One budget's balances in its current period: the shared envelope, or one envelope per
// perKey value, the burn rate, and the last periods' totals. Amounts are in the budget's
// unit (micro-units or tokens). Rollover happens lazily on Roll(): when time passes the
// period end, spend resets and the finished period joins the history; when the clock goes
// back before the period start, the period is kept (never reset twice). In-flight
// reservations survive rollover. Not thread-safe: the ledger serialises calls.
class BudgetState {
 public:
  static constexpr size_t kHistory = 12;

  BudgetState(core::BudgetSpec spec, core::SysSeconds now);

  // Adopts a changed spec. A changed period or time zone takes effect at once: the
  // current window is recomputed and spend already in it is kept.
  void UpdateSpec(core::BudgetSpec spec, core::SysSeconds now);
  const core::BudgetSpec& spec() const { return spec_; }

  void Roll(core::SysSeconds now);

  // The amount of a unit of spend in this budget's unit.
  int64_t AmountOf(int64_t cost_micros, int64_t tokens) const;
  // The envelope key spend with `attribution` is charged to ("" without perKey).
  std::string KeyFor(const core::Labels& attribution) const;

  // What Decide needs for the envelope `key`, labelled for reasons.
  core::EnvelopeState View(const std::string& key, core::SysSeconds now) const;

  void Hold(const std::string& key, int64_t amount);
  void Unhold(const std::string& key, int64_t amount);
  // Records committed spend at `at`: into the current period, or into the history when
  // `at` falls in an earlier period (replaying the ledger after a restart).
  void Spend(const std::string& key, int64_t amount, core::SysSeconds at);

  BudgetSnapshot Snapshot(core::SysSeconds now) const;

 private:
  EnvelopeTotals& Envelope(const std::string& key);

  core::BudgetSpec spec_;
  core::PeriodWindow window_;
  EnvelopeTotals total_;
  std::unordered_map<std::string, EnvelopeTotals> per_key_;
  core::BurnRate burn_;
  std::deque<ClosedPeriod> history_;  // newest first
};

}  // namespace agentbudget::authority
