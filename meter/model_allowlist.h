#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/rate_card.h"

namespace agentbudget::meter {

// The AgentWorkload's `models.allowed`, enforced on every call: the webhook can only check
// the model names it sees in a pod's environment, the meter sees the model of each call.
// The fallback models are allowed as well, being what a `degrade` answer sends. Names
// match when they are equal or resolve to the same rate-card model, so an alias or a dated
// id ("claude-sonnet-4-5-20250929") matches its canonical id. Immutable; thread-safe.
class ModelAllowlist {
 public:
  // Both lists empty: every model is allowed. `rates` must outlive the allowlist.
  ModelAllowlist(const std::vector<std::string>& allowed, const std::vector<std::string>& fallback,
                 const core::RateCard& rates);

  // nullopt when `model` may be called; otherwise the reason, naming the model and the list.
  std::optional<std::string> Refusal(std::string_view model) const;

 private:
  std::string Canonical(std::string_view model) const;

  const core::RateCard& rates_;
  std::vector<std::string> names_;      // as configured, for messages
  std::vector<std::string> canonical_;  // Canonical() of each of names_
};

}  // namespace agentbudget::meter
