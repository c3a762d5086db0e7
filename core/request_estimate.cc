#include "core/request_estimate.h"

#include <algorithm>

namespace agentbudget::core {

const char* OutputCapField(Api api, const nlohmann::json& body) {
  if (api == Api::kAnthropicMessages) {
    return "max_tokens";
  }
  if (api == Api::kOpenAIResponses) {
    return "max_output_tokens";
  }
  const bool legacy_only = body.is_object() && body.contains("max_tokens") &&
                           !body["max_tokens"].is_null() &&
                           (!body.contains("max_completion_tokens") ||
                            body["max_completion_tokens"].is_null());
  return legacy_only ? "max_tokens" : "max_completion_tokens";
}

std::optional<int64_t> OutputCap(Api api, const nlohmann::json& body) {
  if (!body.is_object()) {
    return std::nullopt;
  }
  const auto it = body.find(OutputCapField(api, body));
  if (it == body.end() || !it->is_number_integer() || it->get<int64_t>() <= 0) {
    return std::nullopt;
  }
  return it->get<int64_t>();
}

Usage EstimateRequest(Api api, const nlohmann::json& body, size_t body_bytes,
                      int64_t typical_output) {
  Usage out;
  out.input = EstimateTokensFromBytes(body_bytes);
  out.output = std::min(OutputCap(api, body).value_or(typical_output), typical_output);
  return out;
}

}  // namespace agentbudget::core
