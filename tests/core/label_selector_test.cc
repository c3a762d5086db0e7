#include "core/label_selector.h"

#include <gtest/gtest.h>

namespace agentbudget::core {
namespace {

using nlohmann::json;

LabelSelector Parse(const char* text) { return LabelSelector::FromJson(json::parse(text)).value(); }

TEST(LabelSelectorTest, EmptySelectorMatchesEverything) {
  EXPECT_TRUE(Parse("{}").Matches({}));
  EXPECT_TRUE(LabelSelector::FromJson(nullptr)->Matches({{"team", "a"}}));
}

TEST(LabelSelectorTest, MatchLabelsNeedEveryPair) {
  auto selector = Parse(R"({"matchLabels": {"team": "payments", "environment": "ci"}})");
  EXPECT_TRUE(selector.Matches({{"team", "payments"}, {"environment", "ci"}, {"user", "a"}}));
  EXPECT_FALSE(selector.Matches({{"team", "payments"}}));
}

TEST(LabelSelectorTest, ExpressionsFollowKubernetesSemantics) {
  auto selector = Parse(R"({"matchExpressions": [
      {"key": "model", "operator": "In", "values": ["claude-opus-4-1", "gpt-5"]},
      {"key": "environment", "operator": "NotIn", "values": ["prod"]},
      {"key": "user", "operator": "Exists"},
      {"key": "repo", "operator": "DoesNotExist"}]})");
  EXPECT_TRUE(selector.Matches({{"model", "gpt-5"}, {"user", "a"}}));
  EXPECT_FALSE(selector.Matches({{"model", "gpt-5"}, {"user", "a"}, {"environment", "prod"}}));
  EXPECT_FALSE(selector.Matches({{"model", "gpt-4o"}, {"user", "a"}}));
  EXPECT_FALSE(selector.Matches({{"model", "gpt-5"}}));
  EXPECT_FALSE(selector.Matches({{"model", "gpt-5"}, {"user", "a"}, {"repo", "x"}}));
}

TEST(LabelSelectorTest, MalformedSelectorsAreRejectedWithTheField) {
  for (const char* text :
       {R"({"matchLabels": {"team": 3}})", R"({"matchExpressions": [{"key": "a", "operator": "Near"}]})",
        R"({"matchExpressions": [{"key": "a", "operator": "In"}]})",
        R"({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})",
        R"({"matchExpressions": {}})", R"([])"}) {
    auto selector = LabelSelector::FromJson(json::parse(text));
    ASSERT_FALSE(selector.ok()) << text;
    EXPECT_EQ(selector.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(selector.error().message.find("selector"), std::string::npos);
  }
}

}  // namespace
}  // namespace agentbudget::core
