#include "meter/model_allowlist.h"

#include <gtest/gtest.h>

#include "meter/default_rates.h"

namespace agentbudget::meter {
namespace {

class ModelAllowlistTest : public ::testing::Test {
 protected:
  core::RateCard rates_ = *core::RateCard::FromYaml(DefaultRatesYaml());
};

TEST_F(ModelAllowlistTest, EmptyListsAllowEveryModel) {
  const ModelAllowlist allowlist({}, {}, rates_);
  EXPECT_FALSE(allowlist.Refusal("claude-opus-4-1").has_value());
  EXPECT_FALSE(allowlist.Refusal("some-unknown-model").has_value());
}

TEST_F(ModelAllowlistTest, AllowsListedAndFallbackModelsByAliasAndDatedId) {
  const ModelAllowlist allowlist({"claude-sonnet-4-5"}, {"claude-haiku-4-5"}, rates_);
  EXPECT_FALSE(allowlist.Refusal("claude-sonnet-4-5").has_value());
  EXPECT_FALSE(allowlist.Refusal("claude-sonnet-4-5-20250929").has_value());
  EXPECT_FALSE(allowlist.Refusal("claude-sonnet-4-5-latest").has_value());
  EXPECT_FALSE(allowlist.Refusal("claude-haiku-4-5").has_value());
}

TEST_F(ModelAllowlistTest, RefusesOtherModelsNamingTheModelAndTheList) {
  const ModelAllowlist allowlist({"claude-sonnet-4-5"}, {"claude-haiku-4-5"}, rates_);
  const auto refusal = allowlist.Refusal("gpt-5");
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(*refusal,
            "model \"gpt-5\" is not allowed for this workload (models: claude-sonnet-4-5, "
            "claude-haiku-4-5)");
  EXPECT_TRUE(allowlist.Refusal("some-unknown-model").has_value());
}

}  // namespace
}  // namespace agentbudget::meter
