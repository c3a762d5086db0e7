#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "core/usage.h"

namespace agentbudget::meter {

// Where a request to the meter goes.
struct Route {
  core::Api api = core::Api::kAnthropicMessages;  // the provider's shape (errors, usage)
  bool metered = false;       // false for count_tokens: forwarded, free, not reserved
  std::string upstream_path;  // path and query sent upstream, e.g. "/v1/messages?beta=true"
};

// Maps a meter path (docs/meter.md) to its upstream: /anthropic/v1/messages (any query, e.g.
// ?beta=true), /anthropic/v1/messages/count_tokens, /openai/v1/chat/completions,
// /openai/v1/responses. Fails with kNotFound for anything else.
Result<Route> RouteFor(std::string_view path_and_query);

// A provider-shaped error body that the official SDKs and CLIs parse and show:
// Anthropic {"type":"error","error":{"type":...,"message":...}},
// OpenAI {"error":{"message":...,"type":...,"param":null,"code":...}}.
nlohmann::json ProviderErrorBody(core::Api api, std::string_view type, std::string_view code,
                                 std::string_view message);

}  // namespace agentbudget::meter
