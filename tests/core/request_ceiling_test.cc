#include "core/request_ceiling.h"

#include <gtest/gtest.h>

#include "tests/core/sonnet_rate.h"

namespace agentbudget::core {
namespace {

using nlohmann::json;

// $3 per million input tokens, $15 per million output tokens.
ModelRate Sonnet() { return testing::SonnetRate(); }

// A body of 4000 bytes is estimated at 1000 input tokens.
constexpr size_t kBodyBytes = 4000;

RequestLimits Tokens(int64_t max_tokens, OnExceed on_exceed) {
  RequestLimits limits;
  limits.max_tokens = max_tokens;
  limits.on_exceed = on_exceed;
  return limits;
}

TEST(RequestCeilingTest, NoLimitsLeaveTheBodyAlone) {
  json body = {{"model", "claude-sonnet-4-5"}, {"max_tokens", 128000}};
  const CeilingOutcome outcome =
      ApplyRequestCeiling({}, Api::kAnthropicMessages, Sonnet(), kBodyBytes, body);
  EXPECT_FALSE(outcome.refusal);
  EXPECT_FALSE(outcome.clamped);
  EXPECT_EQ(body["max_tokens"], 128000);
}

TEST(RequestCeilingTest, DenyRefusesAnOversizedCapNamingTheRule) {
  json body = {{"model", "claude-sonnet-4-5"}, {"max_tokens", 128000}};
  const CeilingOutcome outcome = ApplyRequestCeiling(
      Tokens(10000, OnExceed::kDeny), Api::kAnthropicMessages, Sonnet(), kBodyBytes, body);
  ASSERT_TRUE(outcome.refusal);
  EXPECT_EQ(*outcome.refusal,
            "max_tokens 128000 asks for more than perRequest.maxTokens 10000 allows: at most 9000 "
            "output tokens with the request's about 1000 input tokens (perRequest.onExceed: Deny)");
  EXPECT_EQ(body["max_tokens"], 128000);
}

TEST(RequestCeilingTest, ClampLowersTheCapToWhatIsLeft) {
  json body = {{"model", "claude-sonnet-4-5"}, {"max_tokens", 128000}};
  const CeilingOutcome outcome = ApplyRequestCeiling(
      Tokens(10000, OnExceed::kClamp), Api::kAnthropicMessages, Sonnet(), kBodyBytes, body);
  EXPECT_FALSE(outcome.refusal);
  EXPECT_TRUE(outcome.clamped);
  EXPECT_EQ(body["max_tokens"], 9000);
}

TEST(RequestCeilingTest, ACapWithinTheCeilingPassesUnchanged) {
  json body = {{"model", "claude-sonnet-4-5"}, {"max_tokens", 9000}};
  const CeilingOutcome outcome = ApplyRequestCeiling(
      Tokens(10000, OnExceed::kDeny), Api::kAnthropicMessages, Sonnet(), kBodyBytes, body);
  EXPECT_FALSE(outcome.refusal);
  EXPECT_FALSE(outcome.clamped);
}

TEST(RequestCeilingTest, EachWireFormatHasItsOwnCapField) {
  json chat = {{"model", "gpt-5"}, {"max_completion_tokens", 50000}};
  ApplyRequestCeiling(Tokens(10000, OnExceed::kClamp), Api::kOpenAIChat, Sonnet(), kBodyBytes,
                      chat);
  EXPECT_EQ(chat["max_completion_tokens"], 9000);
  json legacy = {{"model", "gpt-4o"}, {"max_tokens", 50000}};
  ApplyRequestCeiling(Tokens(10000, OnExceed::kClamp), Api::kOpenAIChat, Sonnet(), kBodyBytes,
                      legacy);
  EXPECT_EQ(legacy["max_tokens"], 9000);
  EXPECT_FALSE(legacy.contains("max_completion_tokens"));
  json responses = {{"model", "gpt-5"}, {"max_output_tokens", 50000}};
  ApplyRequestCeiling(Tokens(10000, OnExceed::kClamp), Api::kOpenAIResponses, Sonnet(),
                      kBodyBytes, responses);
  EXPECT_EQ(responses["max_output_tokens"], 9000);
}

TEST(RequestCeilingTest, ABodyWithoutACapGetsOneEvenUnderDeny) {
  json body = {{"model", "gpt-5"}};
  const CeilingOutcome outcome = ApplyRequestCeiling(
      Tokens(10000, OnExceed::kDeny), Api::kOpenAIChat, Sonnet(), kBodyBytes, body);
  EXPECT_FALSE(outcome.refusal);
  EXPECT_TRUE(outcome.clamped);
  EXPECT_EQ(body["max_completion_tokens"], 9000);
}

TEST(RequestCeilingTest, InputThatFillsMaxTokensIsRefusedInEitherMode) {
  json body = {{"model", "claude-sonnet-4-5"}, {"max_tokens", 10}};
  const CeilingOutcome outcome = ApplyRequestCeiling(
      Tokens(1000, OnExceed::kClamp), Api::kAnthropicMessages, Sonnet(), kBodyBytes, body);
  ASSERT_TRUE(outcome.refusal);
  EXPECT_NE(outcome.refusal->find("perRequest.maxTokens 1000"), std::string::npos);
}

TEST(RequestCeilingTest, MaxCostBoundsTheOutputAtTheModelsPrices) {
  // 1000 input tokens cost $0.003; $0.015 more buys 1000 output tokens at $15/MTok.
  RequestLimits limits;
  limits.max_cost = Money::FromMicros(18'000);
  limits.on_exceed = OnExceed::kClamp;
  json body = {{"model", "claude-sonnet-4-5"}, {"max_tokens", 64000}};
  const CeilingOutcome outcome =
      ApplyRequestCeiling(limits, Api::kAnthropicMessages, Sonnet(), kBodyBytes, body);
  EXPECT_TRUE(outcome.clamped);
  EXPECT_EQ(body["max_tokens"], 1000);

  limits.on_exceed = OnExceed::kDeny;
  json denied = {{"model", "claude-sonnet-4-5"}, {"max_tokens", 64000}};
  const CeilingOutcome refused =
      ApplyRequestCeiling(limits, Api::kAnthropicMessages, Sonnet(), kBodyBytes, denied);
  ASSERT_TRUE(refused.refusal);
  EXPECT_NE(refused.refusal->find("perRequest.maxCost 0.018 USD at claude-sonnet-4-5's prices"),
            std::string::npos)
      << *refused.refusal;
}

TEST(RequestCeilingTest, TheTighterOfBothCeilingsApplies) {
  RequestLimits limits = Tokens(600, OnExceed::kClamp);
  limits.max_cost = Money::FromMicros(18'000);
  json body = {{"model", "claude-sonnet-4-5"}, {"max_tokens", 64000}};
  ApplyRequestCeiling(limits, Api::kAnthropicMessages, Sonnet(), 400, body);  // 100 input
  EXPECT_EQ(body["max_tokens"], 500);
}

TEST(RequestCeilingTest, InputCostingMoreThanMaxCostIsRefused) {
  RequestLimits limits;
  limits.max_cost = Money::FromMicros(1'000);
  json body = {{"model", "claude-sonnet-4-5"}, {"max_tokens", 10}};
  const CeilingOutcome outcome =
      ApplyRequestCeiling(limits, Api::kAnthropicMessages, Sonnet(), kBodyBytes, body);
  ASSERT_TRUE(outcome.refusal);
  EXPECT_NE(outcome.refusal->find("cost more than perRequest.maxCost 0.001 USD"),
            std::string::npos)
      << *outcome.refusal;
}

TEST(RequestCeilingTest, OnExceedAcceptsOnlyClampOrDeny) {
  EXPECT_EQ(ParseOnExceed("Clamp").value(), OnExceed::kClamp);
  EXPECT_EQ(ParseOnExceed("").value(), OnExceed::kDeny);
  const auto bad = ParseOnExceed("Truncate");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("perRequest.onExceed \"Truncate\""), std::string::npos);
}

}  // namespace
}  // namespace agentbudget::core
