#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "core/budget_spec.h"

namespace agentbudget::core {

// AgentWorkload spec.priority: who keeps running under pressure.
enum class WorkPriority { kReleaseBlocking, kStandard, kDeferrable };
Result<WorkPriority> ParseWorkPriority(std::string_view text);

enum class Decision { kAllow, kDegrade, kDeny };
std::string_view DecisionName(Decision decision);

// One envelope a unit of spend is checked against: a budget's shared envelope, or one of
// its perKey envelopes. Amounts are in the budget's unit (micro-units or tokens).
struct EnvelopeState {
  std::string label;  // "budget team-payments" or "budget per-user (user=alice)"
  const BudgetSpec* budget = nullptr;
  int64_t spent = 0;
  int64_t reserved = 0;
  int64_t forecast = 0;  // projected spend at period end
};

struct DecisionRequest {
  WorkPriority priority = WorkPriority::kStandard;
  std::string model;
  // The workload's fallback models, most to least capable.
  std::vector<std::string> fallback;
  int64_t estimate_micros = 0;
  int64_t estimate_tokens = 0;
  std::vector<EnvelopeState> envelopes;
};

struct DecisionOutcome {
  Decision decision = Decision::kAllow;
  std::string model;   // the model to call
  std::string reason;  // names the envelope for degrade and deny
  // What Observe-mode budgets would have done (deny or degrade), for metrics and logs.
  std::vector<std::string> observed;
};

// Decides one reservation against every envelope at once. Pure.
//   deny    when, for some Deny-mode envelope, spent + reserved + estimate > limit; or when
//           the estimate would reach into the last reserveForReleaseBlocking percent and the
//           work is not ReleaseBlocking;
//   degrade when some Deny-mode envelope is under pressure (core::PressureOf: committed
//           spend at or above degradeAt, or its forecast past the limit with
//           pressure.forecast set; reservations do not count, so a call's outcome does
//           not change with how many calls happen to be in flight), and the
//           work is Standard or Deferrable: the model becomes the next fallback after the
//           requested one (the first fallback if the requested model is not in the list);
//           with no cheaper fallback the call is allowed on the requested model;
//   allow   otherwise.
// An Observe-mode budget never changes the outcome: its would-be denials and degradations
// are listed in `observed`. The first denying envelope, in input order, gives the reason.
DecisionOutcome Decide(const DecisionRequest& request);

// The model a degraded call uses, or "" when `model` is already the cheapest fallback.
std::string NextFallback(const std::string& model, const std::vector<std::string>& fallback);

}  // namespace agentbudget::core
