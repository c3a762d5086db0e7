// core::ApplyRequestCeiling reads an agent's request body before it is forwarded: for any
// body, in every wire format and either onExceed mode, a call it lets through must carry an
// output cap within what perRequest.maxTokens leaves after the estimated input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "core/request_ceiling.h"
#include "core/request_estimate.h"

namespace core = agentbudget::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json parsed =
      nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) {
    return 0;
  }
  core::ModelRate rate;
  rate.id = "m";
  rate.prices.input = core::Money::FromMicros(3'000'000);
  rate.prices.output = core::Money::FromMicros(15'000'000);
  core::RequestLimits limits;
  limits.max_tokens = 4000;
  limits.max_cost = core::Money::FromMicros(50'000);
  for (const core::Api api : {core::Api::kAnthropicMessages, core::Api::kOpenAIChat,
                              core::Api::kOpenAIResponses}) {
    for (const core::OnExceed mode : {core::OnExceed::kDeny, core::OnExceed::kClamp}) {
      limits.on_exceed = mode;
      nlohmann::json body = parsed;
      const core::CeilingOutcome outcome = core::ApplyRequestCeiling(limits, api, rate, size, body);
      if (outcome.refusal) {
        continue;
      }
      const auto cap = core::OutputCap(api, body);
      if (!cap || *cap + core::EstimateTokensFromBytes(size) > *limits.max_tokens) {
        std::abort();
      }
    }
  }
  return 0;
}
