#include "core/request_estimate.h"

#include <gtest/gtest.h>

namespace agentbudget::core {
namespace {

using nlohmann::json;

TEST(RequestEstimateTest, DoesNotReserveTheWorstCaseMaxTokens) {
  const json body = {{"model", "claude-sonnet-4-5"}, {"max_tokens", 128000}};
  const Usage estimate = EstimateRequest(Api::kAnthropicMessages, body, 4000, 2000);
  EXPECT_EQ(estimate.input, 1000);
  EXPECT_EQ(estimate.output, 2000);
}

TEST(RequestEstimateTest, UsesTheRequestCapWhenItIsSmallerThanHistory) {
  EXPECT_EQ(EstimateRequest(Api::kOpenAIChat, json{{"max_tokens", 50}}, 0, 2000).output, 50);
  EXPECT_EQ(EstimateRequest(Api::kOpenAIChat, json{{"max_completion_tokens", 60}}, 0, 2000).output,
            60);
  EXPECT_EQ(EstimateRequest(Api::kOpenAIResponses, json{{"max_output_tokens", 70}}, 0, 2000).output,
            70);
}

TEST(RequestEstimateTest, ToleratesBodiesOfAnyShape) {
  EXPECT_EQ(EstimateRequest(Api::kOpenAIResponses, json::array(), 9, 100).input, 3);
  EXPECT_EQ(EstimateRequest(Api::kOpenAIChat, json{{"max_tokens", "x"}}, 0, 100).output, 100);
}

TEST(RequestEstimateTest, OpenAIChatCapIsTheLegacyFieldOnlyWhenItIsTheOneSet) {
  EXPECT_STREQ(OutputCapField(Api::kOpenAIChat, json{{"max_tokens", 5}}), "max_tokens");
  EXPECT_STREQ(OutputCapField(Api::kOpenAIChat,
                              json{{"max_tokens", 5}, {"max_completion_tokens", 6}}),
               "max_completion_tokens");
  EXPECT_STREQ(OutputCapField(Api::kOpenAIChat, json::object()), "max_completion_tokens");
  EXPECT_EQ(OutputCap(Api::kOpenAIChat, json{{"max_tokens", 5}, {"max_completion_tokens", 6}}), 6);
  EXPECT_EQ(OutputCap(Api::kAnthropicMessages, json{{"max_tokens", 0}}), std::nullopt);
}

TEST(OutputHistoryTest, MovesTowardsRecentOutputs) {
  OutputHistory history(800);
  for (int i = 0; i < 100; ++i) {
    history.Add(80);
  }
  EXPECT_LT(history.typical(), 100);
  EXPECT_GE(history.typical(), 80);
}

}  // namespace
}  // namespace agentbudget::core
