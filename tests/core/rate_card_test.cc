#include "core/rate_card.h"

#include <gtest/gtest.h>

namespace agentbudget::core {
namespace {

constexpr const char* kCard = R"(
unknownModel:
  prices: {input: "15", cacheRead: "1.5", cacheWrite5m: "18.75", cacheWrite1h: "30", output: "75"}
models:
  - id: claude-sonnet-4-5
    provider: anthropic
    aliases: [sonnet]
    prices: {input: "3", cacheRead: "0.30", cacheWrite5m: "3.75", cacheWrite1h: "6", output: "15"}
    longContext:
      - aboveInputTokens: 200000
        prices: {input: "6", output: "22.50"}
    batchDiscountPercent: 50
    source: "https://example.test/pricing"
    date: "2026-11-27"
  - id: gpt-5
    provider: openai
    prices: {input: "1.25", cacheRead: "0.125", cacheWrite5m: "1.25", cacheWrite1h: "1.25", output: "10"}
)";

RateCard Card() {
  auto card = RateCard::FromYaml(kCard);
  EXPECT_TRUE(card.ok()) << card.error().message;
  return *card;
}

TEST(RateCardTest, LoadsPricesAsMicroDollarsPerMillionTokens) {
  const RateCard card = Card();
  const ResolvedRate sonnet = card.Resolve("claude-sonnet-4-5");
  ASSERT_TRUE(sonnet.known);
  EXPECT_EQ(sonnet.rate->prices.cache_read, Money::FromMicros(300'000));
  EXPECT_EQ(sonnet.rate->batch_discount_percent, 50);
  EXPECT_EQ(sonnet.rate->source, "https://example.test/pricing");
  ASSERT_EQ(sonnet.rate->tiers.size(), 1u);
  EXPECT_EQ(sonnet.rate->tiers[0].prices.input, Money::FromMicros(6'000'000));
  // Tier prices not given are the base prices.
  EXPECT_EQ(sonnet.rate->tiers[0].prices.cache_read, Money::FromMicros(300'000));
}

TEST(RateCardTest, ResolvesAliasesAndDatedModelIds) {
  const RateCard card = Card();
  EXPECT_EQ(card.Resolve("sonnet").rate->id, "claude-sonnet-4-5");
  EXPECT_EQ(card.Resolve("claude-sonnet-4-5-20250929").rate->id, "claude-sonnet-4-5");
  EXPECT_EQ(card.Resolve("gpt-5-2025-08-07").rate->id, "gpt-5");
}

TEST(RateCardTest, PricesAnUnknownModelAtTheDefaultAndSaysSo) {
  const RateCard card = Card();
  const ResolvedRate unknown = card.Resolve("mystery-model");
  EXPECT_FALSE(unknown.known);
  EXPECT_EQ(unknown.rate->prices.output, Money::FromMicros(75'000'000));
}

TEST(RateCardTest, OverridesReplaceModelsByIdAndAddNewOnes) {
  auto merged = Card().WithOverrides(R"(
models:
  - id: gpt-5
    prices: {input: "1", cacheRead: "0.1", cacheWrite5m: "1", cacheWrite1h: "1", output: "8"}
  - id: in-house-model
    prices: {input: "0", cacheRead: "0", cacheWrite5m: "0", cacheWrite1h: "0", output: "0"}
)");
  ASSERT_TRUE(merged.ok()) << merged.error().message;
  EXPECT_EQ(merged->Resolve("gpt-5").rate->prices.output, Money::FromMicros(8'000'000));
  EXPECT_TRUE(merged->Resolve("in-house-model").known);
  EXPECT_TRUE(merged->Resolve("sonnet").known);
}

// A missing cache price is charged at the unknownModel price, never at zero, and named.
TEST(RateCardTest, AMissingCachePriceFallsBackToTheUnknownModelPriceAndIsNamed) {
  auto card = RateCard::FromYaml(R"(
unknownModel:
  prices: {input: "15", cacheRead: "1.5", cacheWrite5m: "18.75", cacheWrite1h: "30", output: "75"}
models:
  - id: partial
    prices: {input: "2", cacheRead: "0.2", output: "8"}
    longContext:
      - aboveInputTokens: 1000
        prices: {input: "4"}
)");
  ASSERT_TRUE(card.ok()) << card.error().message;
  const ModelRate& rate = *card->Resolve("partial").rate;
  EXPECT_EQ(rate.unpriced, (std::vector<std::string>{"cacheWrite5m", "cacheWrite1h"}));
  EXPECT_EQ(rate.prices.cache_read, Money::FromMicros(200'000));
  EXPECT_EQ(rate.prices.cache_write_1h, Money::FromMicros(30'000'000));
  EXPECT_EQ(rate.tiers[0].prices.cache_write_5m, Money::FromMicros(18'750'000));
  EXPECT_EQ(rate.tiers[0].prices.input, Money::FromMicros(4'000'000));
  // An override's unknownModel prices them anew.
  auto merged = card->WithOverrides(R"(
unknownModel:
  prices: {input: "1", cacheRead: "1", cacheWrite5m: "1", cacheWrite1h: "9", output: "1"}
)");
  ASSERT_TRUE(merged.ok()) << merged.error().message;
  EXPECT_EQ(merged->Resolve("partial").rate->prices.cache_write_1h, Money::FromMicros(9'000'000));
  // Input and output prices are required.
  auto no_output = RateCard::FromYaml(R"(
unknownModel:
  prices: {input: "15", cacheRead: "1.5", cacheWrite5m: "18.75", cacheWrite1h: "30", output: "75"}
models: [{id: m, prices: {input: "2"}}]
)");
  ASSERT_FALSE(no_output.ok());
  EXPECT_NE(no_output.error().message.find("model m: missing price output"), std::string::npos)
      << no_output.error().message;
}

TEST(RateCardTest, RejectsMalformedCardsNamingTheModelAndField) {
  const std::pair<const char*, const char*> cases[] = {
      {"models: []", "missing unknownModel"},
      {"unknownModel: {prices: {input: \"1\"}}", "missing price cacheRead"},
      {R"(unknownModel: {prices: {input: "1", cacheRead: "1", cacheWrite5m: "1", cacheWrite1h: "1", output: "1"}}
models: [{id: m1, prices: {input: "1e3", cacheRead: "1", cacheWrite5m: "1", cacheWrite1h: "1", output: "1"}}])",
       "model m1: input: invalid amount"},
      {R"(unknownModel: {prices: {input: "1", cacheRead: "1", cacheWrite5m: "1", cacheWrite1h: "1", output: "1"}}
models:
  - {id: a, prices: {input: "1", cacheRead: "1", cacheWrite5m: "1", cacheWrite1h: "1", output: "1"}}
  - {id: b, aliases: [a], prices: {input: "1", cacheRead: "1", cacheWrite5m: "1", cacheWrite1h: "1", output: "1"}})",
       "alias a is already taken"},
      {"{{{", "rate card: document"},
  };
  for (const auto& [yaml, expected] : cases) {
    auto card = RateCard::FromYaml(yaml);
    ASSERT_FALSE(card.ok()) << yaml;
    EXPECT_NE(card.error().message.find(expected), std::string::npos) << card.error().message;
  }
}

TEST(RateCardTest, StripsOnlyWellFormedTrailingDates) {
  EXPECT_EQ(StripModelDate("claude-opus-4-1-20250805"), "claude-opus-4-1");
  EXPECT_EQ(StripModelDate("gpt-5-2025-08-07"), "gpt-5");
  EXPECT_EQ(StripModelDate("gpt-5"), std::nullopt);
  EXPECT_EQ(StripModelDate("model-2025080"), std::nullopt);
  EXPECT_EQ(StripModelDate("-20250805"), std::nullopt);
}

}  // namespace
}  // namespace agentbudget::core
