#include "meter/routes.h"

namespace agentbudget::meter {

Result<Route> RouteFor(std::string_view path_and_query) {
  const size_t query = path_and_query.find('?');
  const std::string_view path = path_and_query.substr(0, query);
  const std::string_view rest =
      query == std::string_view::npos ? std::string_view() : path_and_query.substr(query);
  Route route;
  std::string_view upstream;
  if (path == "/anthropic/v1/messages") {
    route = {core::Api::kAnthropicMessages, true, ""};
    upstream = "/v1/messages";
  } else if (path == "/anthropic/v1/messages/count_tokens") {
    route = {core::Api::kAnthropicMessages, false, ""};
    upstream = "/v1/messages/count_tokens";
  } else if (path == "/openai/v1/chat/completions") {
    route = {core::Api::kOpenAIChat, true, ""};
    upstream = "/v1/chat/completions";
  } else if (path == "/openai/v1/responses") {
    route = {core::Api::kOpenAIResponses, true, ""};
    upstream = "/v1/responses";
  } else {
    return NotFound("the agentbudget meter does not proxy " + std::string(path));
  }
  route.upstream_path = std::string(upstream) + std::string(rest);
  return route;
}

nlohmann::json ProviderErrorBody(core::Api api, std::string_view type, std::string_view code,
                                 std::string_view message) {
  if (api == core::Api::kAnthropicMessages) {
    return {{"type", "error"}, {"error", {{"type", type}, {"message", message}}}};
  }
  return {{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}};
}

}  // namespace agentbudget::meter
