#include "core/pressure.h"

#include <algorithm>

#include "core/money.h"

namespace agentbudget::core {

std::string_view PressureName(Pressure pressure) {
  switch (pressure) {
    case Pressure::kNone:
      return "None";
    case Pressure::kDegrade:
      return "Degrade";
    case Pressure::kQueue:
      return "Queue";
    case Pressure::kExhausted:
      return "Exhausted";
  }
  return "None";
}

int UtilizationPercent(int64_t used, int64_t limit) {
  if (limit <= 0 || used <= 0) {
    return 0;
  }
  int64_t percent = 0;
  if (used <= INT64_MAX / 100) {
    percent = used * 100 / limit;
  } else {
    // Only reachable with amounts near the int64 range: limit / 100 is then large.
    percent = used / std::max<int64_t>(limit / 100, 1);
  }
  return static_cast<int>(std::min<int64_t>(percent, 100000));
}

Pressure PressureOf(int64_t limit, const PressurePolicy& policy, int64_t spent, int64_t forecast) {
  if (spent >= limit) {
    return Pressure::kExhausted;
  }
  const int percent = UtilizationPercent(spent, limit);
  if (percent >= policy.queue_at) {
    return Pressure::kQueue;
  }
  if (percent >= policy.degrade_at || (policy.forecast && forecast > limit)) {
    return Pressure::kDegrade;
  }
  return Pressure::kNone;
}

void BurnRate::Record(SysSeconds at, int64_t amount) {
  const int64_t minute = at.time_since_epoch().count() / 60;
  const size_t slot = static_cast<size_t>(((minute % kBuckets) + kBuckets) % kBuckets);
  if (minutes_[slot] != minute) {
    minutes_[slot] = minute;
    amounts_[slot] = 0;
  }
  amounts_[slot] = SaturatingAdd(amounts_[slot], amount);
}

int64_t BurnRate::PerHour(SysSeconds now, SysSeconds since) const {
  const int64_t now_minute = now.time_since_epoch().count() / 60;
  int64_t total = 0;
  for (int i = 0; i < kBuckets; ++i) {
    if (minutes_[i] > now_minute - kBuckets && minutes_[i] <= now_minute) {
      total = SaturatingAdd(total, amounts_[i]);
    }
  }
  const int64_t elapsed = std::clamp<int64_t>((now - since).count(), 60, 3600);
  return SaturatingMultiply(total, 3600) / elapsed;
}

void BurnRate::Clear() {
  amounts_.fill(0);
  minutes_.fill(0);
}

int64_t Forecast(int64_t spent, int64_t per_hour, SysSeconds now, const PeriodWindow& window) {
  if (window.end == SysSeconds::max() || now >= window.end) {
    return spent;
  }
  const int64_t seconds_left = (window.end - now).count();
  return SaturatingAdd(spent, SaturatingMultiply(per_hour, seconds_left) / 3600);
}

}  // namespace agentbudget::core
