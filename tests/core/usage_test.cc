#include "core/usage.h"

#include <gtest/gtest.h>

namespace agentbudget::core {
namespace {

using nlohmann::json;

TEST(UsageTest, NormalisesAnthropicUsageWithCacheWritesByTtl) {
  auto usage = NormaliseUsage(Api::kAnthropicMessages, json::parse(R"({
    "input_tokens": 10, "cache_read_input_tokens": 200, "cache_creation_input_tokens": 30,
    "cache_creation": {"ephemeral_5m_input_tokens": 20, "ephemeral_1h_input_tokens": 10},
    "output_tokens": 7})"));
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(*usage, (Usage{10, 200, 20, 10, 7, 0}));
  EXPECT_EQ(usage->TotalInput(), 240);
  EXPECT_EQ(usage->Total(), 247);
}

TEST(UsageTest, CountsAnthropicCacheWritesWithoutTtlSplitAsFiveMinuteWrites) {
  auto usage = NormaliseUsage(Api::kAnthropicMessages, json::parse(R"({
    "input_tokens": 1, "cache_creation_input_tokens": 30, "cache_read_input_tokens": null,
    "output_tokens": 2})"));
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(*usage, (Usage{1, 0, 30, 0, 2, 0}));
}

TEST(UsageTest, MovesOpenAiCachedTokensOutOfTheInputCount) {
  auto usage = NormaliseUsage(Api::kOpenAIChat, json::parse(R"({
    "prompt_tokens": 100, "completion_tokens": 40, "total_tokens": 140,
    "prompt_tokens_details": {"cached_tokens": 60},
    "completion_tokens_details": {"reasoning_tokens": 25}})"));
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(*usage, (Usage{40, 60, 0, 0, 40, 25}));
  EXPECT_EQ(usage->TotalInput(), 100);
}

TEST(UsageTest, NormalisesResponsesUsage) {
  auto usage = NormaliseUsage(Api::kOpenAIResponses, json::parse(R"({
    "input_tokens": 50, "input_tokens_details": {"cached_tokens": 5},
    "output_tokens": 9, "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 59})"));
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(*usage, (Usage{45, 5, 0, 0, 9, 3}));
}

TEST(UsageTest, RejectsNegativeAndNonIntegerCounts) {
  EXPECT_FALSE(NormaliseUsage(Api::kAnthropicMessages, json::parse(R"({"input_tokens": -1})")).ok());
  EXPECT_FALSE(NormaliseUsage(Api::kOpenAIChat, json::parse(R"({"prompt_tokens": "12"})")).ok());
  EXPECT_FALSE(NormaliseUsage(Api::kOpenAIChat, json::parse(R"({"prompt_tokens": 1.5})")).ok());
  EXPECT_FALSE(NormaliseUsage(Api::kOpenAIResponses, json::parse("[]")).ok());
}

TEST(UsageTest, MergeKeepsTheLatestValueOfEachFieldWithoutSumming) {
  Usage usage{10, 5, 0, 0, 1, 0};
  ASSERT_TRUE(MergeAnthropicUsage(json::parse(R"({"output_tokens": 30})"), usage).ok());
  ASSERT_TRUE(MergeAnthropicUsage(json::parse(R"({"output_tokens": 42, "input_tokens": null})"),
                                  usage)
                  .ok());
  EXPECT_EQ(usage, (Usage{10, 5, 0, 0, 42, 0}));
}

TEST(UsageTest, ReadsUsageAndModelFromAResponseBody) {
  auto read = UsageFromResponseBody(
      Api::kAnthropicMessages,
      R"({"id":"m","model":"claude-x","usage":{"input_tokens":3,"output_tokens":4}})");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->usage, (Usage{3, 0, 0, 0, 4, 0}));
  EXPECT_EQ(read->model, "claude-x");
  for (const char* body : {R"({"usage":{"prompt_tokens":1}})",
                           R"({"model":7,"usage":{"prompt_tokens":1}})"}) {
    auto without = UsageFromResponseBody(Api::kOpenAIChat, body);
    ASSERT_TRUE(without.ok()) << body;
    EXPECT_EQ(without->usage.input, 1) << body;
    EXPECT_EQ(without->model, "") << body;
  }
}

TEST(UsageTest, ExplainsABodyWithoutUsage) {
  auto not_json = UsageFromResponseBody(Api::kOpenAIChat, "<html>");
  ASSERT_FALSE(not_json.ok());
  EXPECT_EQ(not_json.error().message, "openai.chat response is not a JSON object");
  auto no_usage = UsageFromResponseBody(Api::kOpenAIResponses, "{}");
  ASSERT_FALSE(no_usage.ok());
  EXPECT_EQ(no_usage.error().message, "openai.responses response has no usage object");
}

TEST(UsageTest, RoundTripsTheProtocolForm) {
  const Usage usage{1, 2, 3, 4, 5, 6};
  const json j = UsageToJson(usage);
  EXPECT_EQ(j["cacheWrite1h"], 4);
  auto back = UsageFromJson(j);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, usage);
  EXPECT_FALSE(UsageFromJson(json::parse(R"({"input": 1})")).ok());
}

}  // namespace
}  // namespace agentbudget::core
