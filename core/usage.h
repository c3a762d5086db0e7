#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace agentbudget::core {

// The LLM APIs the meter understands.
enum class Api {
  kAnthropicMessages,  // POST /v1/messages
  kOpenAIChat,         // POST /v1/chat/completions
  kOpenAIResponses,    // POST /v1/responses
};

// "anthropic.messages", "openai.chat", "openai.responses": for logs and metric labels.
std::string_view ApiName(Api api);
// "anthropic" or "openai".
std::string_view ProviderName(Api api);

// Token usage of one call, normalised across providers. The buckets are disjoint and each
// is billed at its own price:
// - input: input tokens neither read from nor written to a prompt cache;
// - cache_read: input tokens read from the cache (OpenAI "cached_tokens");
// - cache_write_5m / cache_write_1h: input tokens written to the cache, by TTL (Anthropic);
// - output: billable output tokens, reasoning included.
// `reasoning` is informational: it is a part of `output`, not added to it.
// A value type.
struct Usage {
  int64_t input = 0;
  int64_t cache_read = 0;
  int64_t cache_write_5m = 0;
  int64_t cache_write_1h = 0;
  int64_t output = 0;
  int64_t reasoning = 0;

  // Every input token: input + cache reads + cache writes (the request's context size).
  int64_t TotalInput() const;
  // TotalInput() + output.
  int64_t Total() const;

  bool operator==(const Usage&) const = default;
};

// The protocol form of docs/authority-protocol.md:
// {"input","cacheRead","cacheWrite5m","cacheWrite1h","output","reasoning"}.
nlohmann::json UsageToJson(const Usage& usage);
// The inverse of UsageToJson. Fails with kInvalidArgument on a missing or negative field.
Result<Usage> UsageFromJson(const nlohmann::json& json);

// Normalises a provider `usage` object of `api`'s shape:
// - Anthropic: input_tokens, cache_read_input_tokens, cache_creation_input_tokens and
//   cache_creation.{ephemeral_5m,ephemeral_1h}_input_tokens (cache writes without the TTL
//   split count as 5-minute writes), output_tokens.
// - OpenAI chat: prompt_tokens (cached tokens are a subset, moved to cache_read),
//   completion_tokens, completion_tokens_details.reasoning_tokens.
// - OpenAI Responses: input_tokens (cached subset likewise), output_tokens,
//   output_tokens_details.reasoning_tokens.
// Null or absent fields count as zero. Fails with kInvalidArgument when `usage` is not an
// object or a count is not a non-negative integer.
Result<Usage> NormaliseUsage(Api api, const nlohmann::json& usage);

// Merges an Anthropic `usage` object into `into`, overwriting each field that is present
// and non-null and keeping the others, as message_delta's cumulative usage requires.
// Fails like NormaliseUsage; `into` is unchanged then.
Status MergeAnthropicUsage(const nlohmann::json& usage, Usage& into);

// What a complete (non-streaming) JSON response body says about its own cost.
struct ResponseUsage {
  Usage usage;
  std::string model;  // the body's "model"; empty when absent or not a string
};

// Reads the usage and the model of a complete (non-streaming) JSON response body of `api`,
// parsing it once. Fails with kInvalidArgument when the body is not JSON or holds no usage
// object.
Result<ResponseUsage> UsageFromResponseBody(Api api, std::string_view body);

// A rough token count for text of `bytes` bytes (about four bytes a token, rounded up),
// used only where a provider did not report usage.
int64_t EstimateTokensFromBytes(size_t bytes);

}  // namespace agentbudget::core
