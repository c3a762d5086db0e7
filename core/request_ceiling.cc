#include "core/request_ceiling.h"

#include <algorithm>

#include "core/pricing.h"
#include "core/request_estimate.h"

namespace agentbudget::core {
namespace {

// Caps a binary search for the output a cost ceiling allows: far above any model's output.
constexpr int64_t kMostOutput = int64_t{1} << 40;

// The most output tokens a call with `input` tokens may produce for at most `max_cost`
// at `rate`; -1 when the input alone costs more.
int64_t OutputWithin(const ModelRate& rate, int64_t input, Money max_cost, int64_t upper) {
  const auto fits = [&](int64_t output) {
    Usage usage;
    usage.input = input;
    usage.output = output;
    return PriceUsage(rate, usage) <= max_cost;
  };
  if (!fits(0)) {
    return -1;
  }
  int64_t low = 0;  // fits
  int64_t high = upper;
  if (fits(high)) {
    return high;
  }
  while (high - low > 1) {  // low fits, high does not
    const int64_t middle = low + (high - low) / 2;
    (fits(middle) ? low : high) = middle;
  }
  return low;
}

}  // namespace

Result<OnExceed> ParseOnExceed(std::string_view text) {
  if (text == "Deny" || text.empty()) {
    return OnExceed::kDeny;
  }
  if (text == "Clamp") {
    return OnExceed::kClamp;
  }
  return InvalidArgument("perRequest.onExceed \"" + std::string(text) +
                         "\" is neither Clamp nor Deny");
}

CeilingOutcome ApplyRequestCeiling(const RequestLimits& limits, Api api, const ModelRate& rate,
                                   size_t body_bytes, nlohmann::json& body) {
  CeilingOutcome outcome;
  if (limits.empty()) {
    return outcome;
  }
  const int64_t input = EstimateTokensFromBytes(body_bytes);
  const std::string about = "about " + std::to_string(input) + " input tokens";
  int64_t allowed = kMostOutput;
  std::string rule;  // the ceiling that bounds the output most
  if (limits.max_tokens) {
    if (input >= *limits.max_tokens) {
      outcome.refusal = "the request's " + about + " leave no output under perRequest.maxTokens " +
                        std::to_string(*limits.max_tokens);
      return outcome;
    }
    allowed = *limits.max_tokens - input;
    rule = "perRequest.maxTokens " + std::to_string(*limits.max_tokens);
  }
  if (limits.max_cost) {
    const int64_t within = OutputWithin(rate, input, *limits.max_cost, allowed);
    if (within <= 0) {
      outcome.refusal = "the request's " + about + " cost " + (within < 0 ? "more than" : "all of") +
                        " perRequest.maxCost " + limits.max_cost->ToString() + " USD at " +
                        rate.id + "'s prices";
      return outcome;
    }
    if (within < allowed || rule.empty()) {
      allowed = within;
      rule = "perRequest.maxCost " + limits.max_cost->ToString() + " USD at " + rate.id +
             "'s prices";
    }
  }
  const char* field = OutputCapField(api, body);
  const std::optional<int64_t> requested = OutputCap(api, body);
  if (requested && *requested <= allowed) {
    return outcome;
  }
  if (requested && limits.on_exceed == OnExceed::kDeny) {
    outcome.refusal = std::string(field) + " " + std::to_string(*requested) + " asks for more than " +
                      rule + " allows: at most " + std::to_string(allowed) +
                      " output tokens with the request's " + about + " (perRequest.onExceed: Deny)";
    return outcome;
  }
  body[field] = allowed;
  outcome.clamped = true;
  return outcome;
}

}  // namespace agentbudget::core
