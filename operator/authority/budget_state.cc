#include "operator/authority/budget_state.h"

#include <algorithm>

#include "core/money.h"

namespace agentbudget::authority {

using core::SaturatingAdd;

BudgetState::BudgetState(core::BudgetSpec spec, core::SysSeconds now)
    : spec_(std::move(spec)), window_(core::PeriodContaining(spec_.period, spec_.zone, now)) {}

void BudgetState::UpdateSpec(core::BudgetSpec spec, core::SysSeconds now) {
  const bool reshaped = spec.period != spec_.period || spec.zone.name() != spec_.zone.name();
  spec_ = std::move(spec);
  if (reshaped) {
    window_ = core::PeriodContaining(spec_.period, spec_.zone, now);
  }
}

void BudgetState::Roll(core::SysSeconds now) {
  if (now < window_.end) {
    return;
  }
  history_.push_front({window_.start, window_.end, total_.spent});
  while (history_.size() > kHistory) {
    history_.pop_back();
  }
  window_ = core::PeriodContaining(spec_.period, spec_.zone, now);
  total_.spent = 0;
  for (auto it = per_key_.begin(); it != per_key_.end();) {
    it->second.spent = 0;
    // Envelopes with nothing in flight are recreated on demand.
    it = it->second.reserved == 0 ? per_key_.erase(it) : std::next(it);
  }
  burn_.Clear();
}

int64_t BudgetState::AmountOf(int64_t cost_micros, int64_t tokens) const {
  return spec_.limit.unit == core::LimitUnit::kTokens ? tokens : cost_micros;
}

std::string BudgetState::KeyFor(const core::Labels& attribution) const {
  return spec_.per_key.empty() ? std::string() : spec_.KeyOf(attribution);
}

EnvelopeTotals& BudgetState::Envelope(const std::string& key) {
  return spec_.per_key.empty() ? total_ : per_key_[key];
}

core::EnvelopeState BudgetState::View(const std::string& key, core::SysSeconds now) const {
  core::EnvelopeState view;
  view.budget = &spec_;
  if (spec_.per_key.empty()) {
    view.label = "budget " + spec_.name;
    view.spent = total_.spent;
    view.reserved = total_.reserved;
    view.forecast = core::Forecast(total_.spent, burn_.PerHour(now, window_.start), now, window_);
    return view;
  }
  view.label = "budget " + spec_.name + " (" + spec_.per_key + "=" + key + ")";
  if (auto found = per_key_.find(key); found != per_key_.end()) {
    view.spent = found->second.spent;
    view.reserved = found->second.reserved;
  }
  view.forecast = view.spent;
  return view;
}

void BudgetState::Hold(const std::string& key, int64_t amount) {
  Envelope(key).reserved = SaturatingAdd(Envelope(key).reserved, amount);
  if (!spec_.per_key.empty()) {
    total_.reserved = SaturatingAdd(total_.reserved, amount);
  }
}

void BudgetState::Unhold(const std::string& key, int64_t amount) {
  EnvelopeTotals& envelope = Envelope(key);
  envelope.reserved = std::max<int64_t>(0, envelope.reserved - amount);
  if (!spec_.per_key.empty()) {
    total_.reserved = std::max<int64_t>(0, total_.reserved - amount);
  }
}

void BudgetState::Spend(const std::string& key, int64_t amount, core::SysSeconds at) {
  if (at < window_.start) {
    const core::PeriodWindow past = core::PeriodContaining(spec_.period, spec_.zone, at);
    auto found = std::find_if(history_.begin(), history_.end(),
                              [&](const ClosedPeriod& period) { return period.start == past.start; });
    if (found != history_.end()) {
      found->spent = SaturatingAdd(found->spent, amount);
      return;
    }
    // Keep the history newest first; periods older than the last kHistory are dropped.
    auto position = std::find_if(history_.begin(), history_.end(),
                                 [&](const ClosedPeriod& period) { return period.start < past.start; });
    history_.insert(position, {past.start, past.end, amount});
    while (history_.size() > kHistory) {
      history_.pop_back();
    }
    return;
  }
  EnvelopeTotals& envelope = Envelope(key);
  envelope.spent = SaturatingAdd(envelope.spent, amount);
  if (!spec_.per_key.empty()) {
    total_.spent = SaturatingAdd(total_.spent, amount);
  }
  burn_.Record(at, amount);
}

BudgetSnapshot BudgetState::Snapshot(core::SysSeconds now) const {
  BudgetSnapshot snapshot;
  snapshot.name = spec_.name;
  snapshot.generation = spec_.generation;
  snapshot.limit = spec_.limit;
  snapshot.window = window_;
  snapshot.spent = total_.spent;
  snapshot.reserved = total_.reserved;
  snapshot.burn_per_hour = burn_.PerHour(now, window_.start);
  snapshot.forecast = core::Forecast(total_.spent, snapshot.burn_per_hour, now, window_);
  snapshot.history.assign(history_.begin(), history_.end());
  const int64_t limit = spec_.limit.amount;
  if (spec_.per_key.empty()) {
    snapshot.remaining = std::max<int64_t>(0, limit - SaturatingAdd(total_.spent, total_.reserved));
    snapshot.utilization = core::UtilizationPercent(total_.spent, limit);
    snapshot.reserved_utilization = core::UtilizationPercent(total_.reserved, limit);
    snapshot.pressure = core::PressureOf(limit, spec_.pressure, total_.spent, snapshot.forecast);
    return snapshot;
  }
  // A perKey budget is as pressed as its fullest envelope.
  snapshot.per_key = spec_.per_key;
  snapshot.keys = static_cast<int64_t>(per_key_.size());
  std::vector<int> alerts = spec_.alerts;
  std::sort(alerts.begin(), alerts.end());
  for (int alert : alerts) {
    snapshot.keys_over_alert.emplace_back(alert, 0);
  }
  const EnvelopeTotals* fullest = nullptr;
  std::vector<BudgetSnapshot::Key> keys;
  keys.reserve(per_key_.size());
  for (const auto& [key, totals] : per_key_) {
    if (fullest == nullptr || totals.spent > fullest->spent) {
      fullest = &totals;
    }
    keys.push_back({key, totals.spent, core::UtilizationPercent(totals.spent, limit)});
    for (auto& [alert, over] : snapshot.keys_over_alert) {
      if (keys.back().utilization >= alert) {
        ++over;
      }
    }
  }
  const size_t top = std::min(keys.size(), BudgetSnapshot::kTopKeys);
  std::partial_sort(keys.begin(), keys.begin() + static_cast<long>(top), keys.end(),
                    [](const auto& a, const auto& b) {
                      return a.spent != b.spent ? a.spent > b.spent : a.key < b.key;
                    });
  keys.resize(top);
  snapshot.top_keys = std::move(keys);
  if (fullest != nullptr) {
    snapshot.remaining =
        std::max<int64_t>(0, limit - SaturatingAdd(fullest->spent, fullest->reserved));
    snapshot.utilization = core::UtilizationPercent(fullest->spent, limit);
    snapshot.reserved_utilization = core::UtilizationPercent(fullest->reserved, limit);
    snapshot.pressure = core::PressureOf(limit, spec_.pressure, fullest->spent, fullest->spent);
  } else {
    snapshot.remaining = limit;
  }
  return snapshot;
}

}  // namespace agentbudget::authority
