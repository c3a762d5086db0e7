#include "core/request_estimate.h"

#include <algorithm>

namespace agentbudget::core {

Usage EstimateRequest(Api api, const nlohmann::json& body, size_t body_bytes,
                      int64_t typical_output) {
  Usage out;
  out.input = EstimateTokensFromBytes(body_bytes);
  const char* cap_key = api == Api::kAnthropicMessages ? "max_tokens"
                        : api == Api::kOpenAIChat      ? "max_completion_tokens"
                                                       : "max_output_tokens";
  int64_t cap = typical_output;
  if (body.is_object()) {
    auto it = body.find(cap_key);
    if ((it == body.end() || it->is_null()) && api == Api::kOpenAIChat) {
      it = body.find("max_tokens");
    }
    if (it != body.end() && it->is_number_integer() && it->get<int64_t>() > 0) {
      cap = it->get<int64_t>();
    }
  }
  out.output = std::min(cap, typical_output);
  return out;
}

}  // namespace agentbudget::core
