#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/usage.h"

namespace agentbudget::core {

// The field that caps a request's output tokens in `api`'s wire format: max_tokens
// (Anthropic Messages), max_output_tokens (OpenAI Responses), and for OpenAI Chat
// max_completion_tokens, or the legacy max_tokens when the body sets only that. `body` may
// be any JSON value.
const char* OutputCapField(Api api, const nlohmann::json& body);

// The request's output cap: a positive integer in OutputCapField, else nullopt.
std::optional<int64_t> OutputCap(Api api, const nlohmann::json& body);

// Estimates the usage of a request before it is sent, for reservations. Input: about four
// bytes a token of the request body (all of it counted as uncached input, an upper bound
// on price). Output: the smaller of the request's own cap (max_tokens,
// max_completion_tokens, max_output_tokens) and `typical_output` (what recent calls of the
// run produced), so that a client asking for max_tokens 128000 on every call is not
// reserved at that worst case (docs/authority.md, "Estimates"). `body` may be any JSON value.
Usage EstimateRequest(Api api, const nlohmann::json& body, size_t body_bytes,
                      int64_t typical_output);

// What a meter expects a call to produce before its run has made any.
inline constexpr int64_t kInitialTypicalOutput = 2048;

// Keeps a running average of output tokens per call (exponentially weighted, 1/8 per
// sample), starting from `initial`. Not thread-safe.
class OutputHistory {
 public:
  explicit OutputHistory(int64_t initial) : average_(initial) {}
  void Add(int64_t output_tokens) { average_ += (output_tokens - average_) / 8; }
  int64_t typical() const { return average_ < 1 ? 1 : average_; }

 private:
  int64_t average_;
};

}  // namespace agentbudget::core
