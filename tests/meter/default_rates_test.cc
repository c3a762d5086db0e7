#include "meter/default_rates.h"

#include <gtest/gtest.h>

#include "core/pricing.h"
#include "core/rate_card.h"

namespace agentbudget::meter {
namespace {

TEST(DefaultRatesTest, ShippedCardLoadsAndSourcesAndDatesEveryModel) {
  auto card = core::RateCard::FromYaml(DefaultRatesYaml());
  ASSERT_TRUE(card.ok()) << card.error().message;
  EXPECT_GE(card->models().size(), 15u);
  for (const core::ModelRate& rate : card->models()) {
    EXPECT_FALSE(rate.source.empty()) << rate.id;
    EXPECT_FALSE(rate.date.empty()) << rate.id;
    EXPECT_TRUE(rate.provider == "anthropic" || rate.provider == "openai") << rate.id;
  }
}

TEST(DefaultRatesTest, PricesCurrentModelsAtTheirListPrices) {
  auto card = core::RateCard::FromYaml(DefaultRatesYaml());
  ASSERT_TRUE(card.ok());
  const core::Usage million_in{1'000'000, 0, 0, 0, 0, 0};
  const core::Usage million_out{0, 0, 0, 0, 1'000'000, 0};
  EXPECT_EQ(core::PriceUsage(*card->Resolve("claude-sonnet-4-5-20250929").rate, million_out),
            core::Money::FromMicros(15'000'000));
  EXPECT_EQ(core::PriceUsage(*card->Resolve("claude-haiku-4-5").rate, million_in),
            core::Money::FromMicros(1'000'000));
  EXPECT_EQ(core::PriceUsage(*card->Resolve("gpt-5.4-mini").rate, million_out),
            core::Money::FromMicros(4'500'000));
  EXPECT_FALSE(card->Resolve("some-future-model").known);
}

TEST(DefaultRatesTest, BoundedIdsAreTheCardsIdsOrOther) {
  auto card = core::RateCard::FromYaml(DefaultRatesYaml());
  ASSERT_TRUE(card.ok());
  EXPECT_EQ(card->BoundedId("claude-sonnet-4-5-20250929"), "claude-sonnet-4-5");
  EXPECT_EQ(card->BoundedId("claude-opus-4-5-latest"), "claude-opus-4-5");
  EXPECT_EQ(card->BoundedId("gpt-5.4"), "gpt-5.4");
  EXPECT_EQ(card->BoundedId("some-future-model"), core::kOtherModel);
  EXPECT_EQ(card->BoundedId(""), core::kOtherModel);
}

}  // namespace
}  // namespace agentbudget::meter
