#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "core/budget_spec.h"
#include "core/period.h"

namespace agentbudget::core {

// The pressure a budget applies now (status.pressure), from least to most severe.
enum class Pressure { kNone, kDegrade, kQueue, kExhausted };
std::string_view PressureName(Pressure pressure);

// `used` over `limit` in whole percent, rounded down; 0 for a non-positive limit.
int UtilizationPercent(int64_t used, int64_t limit);

// The pressure of committed spend `spent` against `limit`: Exhausted when it reaches the
// limit; Queue from queueAt; Degrade from degradeAt, or when `policy.forecast` is set and
// `forecast` exceeds the limit. In-flight reservations do not count: they come and go with
// every call, and a pressure that followed them would flap around each threshold; committed
// spend only grows within a period, so each level is entered at most once per period. (The
// hard limit still counts reservations: core::Decide denies a call that could overspend.)
// Pure.
Pressure PressureOf(int64_t limit, const PressurePolicy& policy, int64_t spent, int64_t forecast);

// Spend per hour over a trailing hour, kept in 60 one-minute buckets so memory is constant.
// Not thread-safe: the owner serialises calls.
class BurnRate {
 public:
  // Adds `amount` spent at `at`. Amounts older than an hour before the newest are dropped.
  void Record(SysSeconds at, int64_t amount);

  // Amount per hour over the hour before `now`; when the period began less than an hour
  // ago (`since`), over the time since then (at least a minute), so a fresh period does not
  // read as slow.
  int64_t PerHour(SysSeconds now, SysSeconds since) const;

  void Clear();

 private:
  static constexpr int kBuckets = 60;
  std::array<int64_t, kBuckets> amounts_{};
  std::array<int64_t, kBuckets> minutes_{};  // the epoch minute each bucket holds
};

// Projected spend at the end of `window`: spent + perHour × hours left. For a window
// without end (period Never) the projection is `spent`. Saturates instead of overflowing.
int64_t Forecast(int64_t spent, int64_t per_hour, SysSeconds now, const PeriodWindow& window);

}  // namespace agentbudget::core
