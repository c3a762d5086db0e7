#include "meter/routes.h"

#include <gtest/gtest.h>

namespace agentbudget::meter {
namespace {

TEST(RoutesTest, MapsEveryMeteredRouteToItsUpstreamPathKeepingTheQuery) {
  auto messages = RouteFor("/anthropic/v1/messages?beta=true");
  ASSERT_TRUE(messages.ok());
  EXPECT_EQ(messages->api, core::Api::kAnthropicMessages);
  EXPECT_TRUE(messages->metered);
  EXPECT_EQ(messages->upstream_path, "/v1/messages?beta=true");
  EXPECT_EQ(RouteFor("/openai/v1/chat/completions")->api, core::Api::kOpenAIChat);
  EXPECT_EQ(RouteFor("/openai/v1/responses")->upstream_path, "/v1/responses");
}

TEST(RoutesTest, ForwardsCountTokensUnmetered) {
  auto count = RouteFor("/anthropic/v1/messages/count_tokens?beta=true");
  ASSERT_TRUE(count.ok());
  EXPECT_FALSE(count->metered);
  EXPECT_EQ(count->upstream_path, "/v1/messages/count_tokens?beta=true");
}

TEST(RoutesTest, RefusesPathsItDoesNotProxy) {
  for (const char* path : {"/v1/messages", "/anthropic/v1/complete", "/openai/v1/embeddings",
                           "/anthropic/v1/messages/../batches", ""}) {
    auto route = RouteFor(path);
    ASSERT_FALSE(route.ok()) << path;
    EXPECT_EQ(route.error().code, ErrorCode::kNotFound);
  }
}

TEST(RoutesTest, ShapesErrorsLikeEachProvider) {
  const auto anthropic =
      ProviderErrorBody(core::Api::kAnthropicMessages, "invalid_request_error", "x", "stop");
  EXPECT_EQ(anthropic.dump(),
            R"({"error":{"message":"stop","type":"invalid_request_error"},"type":"error"})");
  const auto openai = ProviderErrorBody(core::Api::kOpenAIResponses, "invalid_request_error",
                                        "budget_exceeded", "stop");
  EXPECT_EQ(openai["error"]["code"], "budget_exceeded");
  EXPECT_EQ(openai["error"]["message"], "stop");
  EXPECT_TRUE(openai["error"]["param"].is_null());
}

}  // namespace
}  // namespace agentbudget::meter
