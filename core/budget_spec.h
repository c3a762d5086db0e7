#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "core/label_selector.h"
#include "core/period.h"
#include "core/time_zone.h"

namespace agentbudget::core {

// What a budget's limit counts: money (micro-units of `currency`) or tokens of all types.
enum class LimitUnit { kMoney, kTokens };

struct BudgetLimit {
  LimitUnit unit = LimitUnit::kMoney;
  int64_t amount = 0;  // micro-units for kMoney, tokens for kTokens; always > 0
  std::string currency = "USD";

  // An amount in this limit's unit as shown in status: "4200.5" or "2000000".
  std::string Format(int64_t value) const;
  // The limit as shown in status.limit: "5000 USD" or "2000000 tokens".
  std::string Display() const;
};

// spec.pressure, in percent of the limit.
struct PressurePolicy {
  int degrade_at = 80;
  int queue_at = 90;
  int reserve_for_release_blocking = 0;
  bool forecast = false;
};

enum class OnExhausted { kDeny, kObserve };

// An AgentBudget's spec, validated. A value type.
struct BudgetSpec {
  std::string name;
  int64_t generation = 0;
  LabelSelector selector;
  // Absent: every namespace.
  std::optional<LabelSelector> namespace_selector;
  // The attribution key with one envelope per value ("user"), or empty for one envelope.
  std::string per_key;
  PeriodKind period = PeriodKind::kMonth;
  TimeZone zone = TimeZone::Utc();
  BudgetLimit limit;
  std::vector<int> alerts{50, 80, 95};
  PressurePolicy pressure;
  OnExhausted on_exhausted = OnExhausted::kDeny;

  // True when spend with `attribution`, from a namespace labelled `namespace_labels`, is
  // charged to this budget.
  bool Matches(const Labels& attribution, const Labels& namespace_labels) const;

  // The perKey envelope that spend with `attribution` falls in: the attribution's value
  // for per_key, or "" (one shared envelope for spend without that key, so leaving the key
  // unset never escapes the cap). REQUIRES: !per_key.empty().
  std::string KeyOf(const Labels& attribution) const;
};

// Parses an AgentBudget object (metadata + spec) as the API server returns it. Defaults
// follow the CRD. Time zones load from `zoneinfo_dir`. Fails with kInvalidArgument naming
// the bad field (schema validation may be bypassed, so every field is checked again).
Result<BudgetSpec> ParseAgentBudget(const nlohmann::json& object,
                                    const std::string& zoneinfo_dir = "/usr/share/zoneinfo");

}  // namespace agentbudget::core
