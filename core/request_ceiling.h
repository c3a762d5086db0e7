#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "core/money.h"
#include "core/rate_card.h"
#include "core/usage.h"

namespace agentbudget::core {

// What happens to a call whose output cap asks for more than the per-request ceiling allows.
//   kDeny   the call is refused, naming the rule (the default: the agent sees at once that it
//           asked for too much, rather than an answer cut short without being told why)
//   kClamp  the cap is lowered to what the ceiling allows and the call goes on
enum class OnExceed { kDeny, kClamp };
Result<OnExceed> ParseOnExceed(std::string_view text);

// An AgentWorkload's spec.perRequest: the most one LLM call may use.
struct RequestLimits {
  // Tokens of one call: its estimated input plus the output it may produce.
  std::optional<int64_t> max_tokens;
  // Cost of one call at the requested model's prices, input and all the output it may produce.
  std::optional<Money> max_cost;
  OnExceed on_exceed = OnExceed::kDeny;

  bool empty() const { return !max_tokens && !max_cost; }
};

struct CeilingOutcome {
  std::optional<std::string> refusal;  // set: deny the call; names the rule and the numbers
  bool clamped = false;                // the body's output cap was lowered or added
};

// Holds one request to `limits` before it is forwarded. The input is estimated as the meter
// reserves it (core::EstimateTokensFromBytes of `body_bytes`, all uncached); the output may
// use what is left under maxTokens and, priced at `rate` (tiers included), under maxCost.
//   refusal  when the input alone leaves no room for output under either ceiling, or, with
//            onExceed Deny, when the body's output cap (core::OutputCapField) asks for more;
//   clamped  with onExceed Clamp and a cap that asks for more, the cap is lowered to what is
//            left; in either mode a body without a cap (optional in OpenAI's APIs) gets one,
//            since the provider's default could exceed the ceiling.
// `body` is changed only when clamped. REQUIRES: body.is_object(). Pure.
CeilingOutcome ApplyRequestCeiling(const RequestLimits& limits, Api api, const ModelRate& rate,
                                   size_t body_bytes, nlohmann::json& body);

}  // namespace agentbudget::core
