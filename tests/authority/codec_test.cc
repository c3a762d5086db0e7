#include "operator/authority/codec.h"

#include <gtest/gtest.h>

namespace agentbudget::authority {
namespace {

TEST(AuthorityCodecTest, ReserveDecodesEstimateAsIntegerMicros) {
  auto request = DecodeReserve(R"({"idempotencyKey": "k1", "provider": "anthropic",
      "model": "claude-sonnet-4-5", "estimate": {"cost": "0.0425", "tokens": 12000}})");
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->estimate_micros, 42'500);
  EXPECT_EQ(request->estimate_tokens, 12'000);
  EXPECT_FALSE(request->ahead);
}

TEST(AuthorityCodecTest, AReservationAskedAheadSaysSoWithABoolean) {
  const std::string start = R"({"idempotencyKey": "k1", "model": "m",
      "estimate": {"cost": "0.01", "tokens": 1}, "ahead": )";
  auto ahead = DecodeReserve(start + "true}");
  ASSERT_TRUE(ahead.ok());
  EXPECT_TRUE(ahead->ahead);
  auto wrong = DecodeReserve(start + "\"yes\"}");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(wrong.error().message.find("ahead must be true or false"), std::string::npos);
}

TEST(AuthorityCodecTest, SameBodySpelledDifferentlyHasTheSameHash) {
  auto a = DecodeCommit(R"({"idempotencyKey": "c", "cost": "0.5", "model": "m"})");
  auto b = DecodeCommit(R"({ "model":"m","cost":"0.5" , "idempotencyKey":"c"})");
  auto c = DecodeCommit(R"({"idempotencyKey": "c", "cost": "0.6", "model": "m"})");
  EXPECT_EQ(a->request_hash, b->request_hash);
  EXPECT_NE(a->request_hash, c->request_hash);
}

TEST(AuthorityCodecTest, ABatchsParsedRequestDecodesAsItsTextWithTheSameHash) {
  const std::string commit = R"({"idempotencyKey": "c", "cost": "0.5", "model": "m"})";
  const std::string event = R"({"idempotencyKey": "e", "kind": "llm", "cost": "0.5"})";
  auto from_text = DecodeCommit(commit);
  auto from_object = DecodeCommitObject(nlohmann::json::parse(commit));
  ASSERT_TRUE(from_object.ok());
  EXPECT_EQ(from_object->cost_micros, 500'000);
  EXPECT_EQ(from_object->request_hash, from_text->request_hash);
  EXPECT_EQ(DecodeEventObject(nlohmann::json::parse(event))->request_hash,
            DecodeEvent(event)->request_hash);
  auto not_object = DecodeCommitObject(nlohmann::json::array());
  ASSERT_FALSE(not_object.ok());
  EXPECT_EQ(not_object.error().message, "body must be a JSON object");
}

TEST(AuthorityCodecTest, CommitCountsEveryTokenTypeOnce) {
  auto request = DecodeCommit(R"({"idempotencyKey": "c", "cost": "0.0021", "usage": {"input": 1000,
      "cacheRead": 50, "cacheWrite5m": 5, "cacheWrite1h": 1, "output": 200, "reasoning": 80}})");
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->tokens, 1256);
}

TEST(AuthorityCodecTest, MoneyWithMoreThanSixDecimalsIsRejected) {
  auto request = DecodeEvent(R"({"idempotencyKey": "e", "kind": "compute", "cost": "0.0000001"})");
  ASSERT_FALSE(request.ok());
  EXPECT_NE(request.error().message.find("cost"), std::string::npos);
}

TEST(AuthorityCodecTest, OutcomeReportsAreTheOperatorsAlone) {
  auto forged = DecodeEvent(R"({"idempotencyKey": "e", "kind": "outcome:Succeeded", "cost": "0"})");
  ASSERT_FALSE(forged.ok());
  EXPECT_EQ(forged.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(forged.error().message.find("reserved"), std::string::npos);
  EXPECT_TRUE(DecodeEvent(R"({"idempotencyKey": "e", "kind": "ceiling:maxCost", "cost": "0"})").ok());
}

TEST(AuthorityCodecTest, OverlongKeysAreRejected) {
  const std::string body = R"({"idempotencyKey": ")" + std::string(300, 'k') + R"("})";
  EXPECT_EQ(DecodeRelease(body).error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace agentbudget::authority
