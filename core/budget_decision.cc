#include "core/budget_decision.h"

#include <algorithm>

#include "core/money.h"
#include "core/pressure.h"

namespace agentbudget::core {
namespace {

std::string Describe(const EnvelopeState& envelope, int64_t estimate) {
  const BudgetLimit& limit = envelope.budget->limit;
  return "spent " + limit.Format(envelope.spent) + ", reserved " +
         limit.Format(envelope.reserved) + ", this call est. " + limit.Format(estimate) +
         ", limit " + limit.Display();
}

}  // namespace

Result<WorkPriority> ParseWorkPriority(std::string_view text) {
  if (text == "ReleaseBlocking") {
    return WorkPriority::kReleaseBlocking;
  }
  if (text == "Standard" || text.empty()) {
    return WorkPriority::kStandard;
  }
  if (text == "Deferrable") {
    return WorkPriority::kDeferrable;
  }
  return InvalidArgument("priority \"" + std::string(text) +
                         "\" is not one of ReleaseBlocking, Standard, Deferrable");
}

std::string_view DecisionName(Decision decision) {
  switch (decision) {
    case Decision::kAllow:
      return "allow";
    case Decision::kDegrade:
      return "degrade";
    case Decision::kDeny:
      return "deny";
  }
  return "deny";
}

std::string NextFallback(const std::string& model, const std::vector<std::string>& fallback) {
  auto found = std::find(fallback.begin(), fallback.end(), model);
  if (found == fallback.end()) {
    return fallback.empty() ? std::string() : fallback.front();
  }
  ++found;
  return found == fallback.end() ? std::string() : *found;
}

DecisionOutcome Decide(const DecisionRequest& request) {
  DecisionOutcome outcome;
  outcome.model = request.model;
  const bool release_blocking = request.priority == WorkPriority::kReleaseBlocking;
  std::string deny_reason;
  std::string degrade_reason;
  for (const EnvelopeState& envelope : request.envelopes) {
    const BudgetSpec& budget = *envelope.budget;
    const int64_t limit = budget.limit.amount;
    const int64_t estimate = budget.limit.unit == LimitUnit::kTokens ? request.estimate_tokens
                                                                     : request.estimate_micros;
    const int64_t after = SaturatingAdd(SaturatingAdd(envelope.spent, envelope.reserved), estimate);
    // The slice at the end of the limit that only ReleaseBlocking work may spend.
    const int64_t slice = limit / 100 * budget.pressure.reserve_for_release_blocking +
                          limit % 100 * budget.pressure.reserve_for_release_blocking / 100;
    std::string denial;
    if (after > limit) {
      denial = envelope.label + " exhausted: " + Describe(envelope, estimate);
    } else if (!release_blocking && slice > 0 && after > limit - slice) {
      denial = envelope.label + ": only the " +
               std::to_string(budget.pressure.reserve_for_release_blocking) +
               "% reserved for ReleaseBlocking work is left (" + Describe(envelope, estimate) + ")";
    }
    std::string degradation;
    if (denial.empty() && !release_blocking) {
      const Pressure pressure =
          PressureOf(limit, budget.pressure, envelope.spent, envelope.forecast);
      if (pressure != Pressure::kNone) {
        const int percent = UtilizationPercent(envelope.spent, limit);
        degradation = envelope.label + " at " + std::to_string(percent) + "% (degradeAt " +
                      std::to_string(budget.pressure.degrade_at) + "%" +
                      (percent < budget.pressure.degrade_at ? ", forecast over the limit" : "") +
                      ")";
      }
    }
    if (budget.on_exhausted == OnExhausted::kObserve) {
      if (!denial.empty()) {
        outcome.observed.push_back("would deny: " + denial);
      } else if (!degradation.empty()) {
        outcome.observed.push_back("would degrade: " + degradation);
      }
      continue;
    }
    if (!denial.empty() && deny_reason.empty()) {
      deny_reason = std::move(denial);
    }
    if (!degradation.empty() && degrade_reason.empty()) {
      degrade_reason = std::move(degradation);
    }
  }
  if (!deny_reason.empty()) {
    outcome.decision = Decision::kDeny;
    outcome.reason = std::move(deny_reason);
    return outcome;
  }
  if (!degrade_reason.empty()) {
    std::string fallback = NextFallback(request.model, request.fallback);
    if (fallback.empty()) {
      outcome.reason = degrade_reason + "; no cheaper fallback model";
      return outcome;
    }
    outcome.decision = Decision::kDegrade;
    outcome.model = std::move(fallback);
    outcome.reason = std::move(degrade_reason);
  }
  return outcome;
}

}  // namespace agentbudget::core
