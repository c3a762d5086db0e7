#include "core/focus_rows.h"

#include <gtest/gtest.h>

#include <chrono>

namespace agentbudget::core {
namespace {

using std::chrono::seconds;

// 2026-11-27T12:00:00Z.
const SysSeconds kNoon{seconds{1'795'780'800}};

const RateCard& Card() {
  static const RateCard card = RateCard::FromYaml(R"(
unknownModel:
  prices: {input: "15", cacheRead: "1.5", cacheWrite5m: "18.75", cacheWrite1h: "30", output: "75"}
models:
  - id: sonnet
    provider: anthropic
    prices: {input: "3", cacheRead: "0.30", cacheWrite5m: "3.75", cacheWrite1h: "6", output: "15"}
  - id: partial
    provider: openai
    prices: {input: "2", cacheRead: "0.2", output: "8"}
  - id: free
    provider: openai
    prices: {input: "0", cacheRead: "0", cacheWrite5m: "0", cacheWrite1h: "0", output: "0"}
)").value();
  return card;
}

FocusCharge Call(const std::string& model, Usage usage, int64_t cost_micros, SysSeconds at) {
  FocusCharge charge;
  charge.at = at;
  charge.model = model;
  charge.usage = usage;
  charge.tokens = usage.Total();
  charge.cost_micros = cost_micros;
  charge.run = "run-1";
  charge.namespace_name = "agents";
  return charge;
}

int64_t Billed(const std::vector<FocusRow>& rows) {
  int64_t sum = 0;
  for (const FocusRow& row : rows) {
    sum += row.billed_micros;
  }
  return sum;
}

TEST(FocusRowsTest, CallsOfOneHourAndSkuAreOneRowAndAnotherHourIsAnother) {
  const std::vector<FocusRow> rows =
      FocusRows({Call("sonnet", {.input = 1000}, 3000, kNoon),
                 Call("sonnet", {.input = 500}, 1500, kNoon + seconds{3599}),
                 Call("sonnet", {.input = 10}, 30, kNoon + seconds{3600})},
                Card());
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(rows[0].quantity, 1500);
  EXPECT_EQ(rows[0].calls, 2);
  EXPECT_EQ(rows[0].billed_micros, 4500);
  EXPECT_EQ(rows[0].list_pico, Int128{1500} * 3'000'000);
  EXPECT_EQ(rows[1].hour, kNoon + seconds{3600});
}

// Each call is rounded up on its own: a cent's fraction of rounding goes to the types with
// the largest remainders, and the rows of a charge sum to its cost exactly.
TEST(FocusRowsTest, AChargesRowsSumToItsCostToTheMicroDollar) {
  // 7 x $3 + 11 x $0.30 + 13 x $15 per million = 219.3 micro-dollars, charged 220.
  const std::vector<FocusRow> rows =
      FocusRows({Call("sonnet", {.input = 7, .cache_read = 11, .output = 13}, 220, kNoon)}, Card());
  ASSERT_EQ(rows.size(), 3U);
  EXPECT_EQ(Billed(rows), 220);
  EXPECT_EQ(rows[0].billed_micros, 21);   // input: 21 exactly
  EXPECT_EQ(rows[2].billed_micros, 196);  // output: 195 and the largest remainder
}

TEST(FocusRowsTest, ACostWithoutAListCostStillBillsInFull) {
  const std::vector<FocusRow> rows =
      FocusRows({Call("free", {.input = 100, .output = 50}, 42, kNoon)}, Card());
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(Billed(rows), 42);
  EXPECT_EQ(rows[0].unit_price, Money());
  EXPECT_EQ(rows[0].pricing_error, "");
}

TEST(FocusRowsTest, HugeChargesStayExact) {
  const int64_t tokens = 2'000'000'000'000;  // two trillion
  const std::vector<FocusRow> rows = FocusRows(
      {Call("sonnet", {.input = tokens, .output = tokens}, 36'000'000'000'000, kNoon)}, Card());
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(Billed(rows), 36'000'000'000'000);  // $36 million
  EXPECT_EQ(rows[0].billed_micros, 6'000'000'000'000);
  EXPECT_EQ(rows[1].list_pico, Int128{tokens} * 15'000'000);
}

TEST(FocusRowsTest, AnUnknownModelIsListedAtTheFallbackAndNamed) {
  const std::vector<FocusRow> rows =
      FocusRows({Call("mystery", {.cache_write_1h = 10}, 300, kNoon)}, Card());
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].unit_price, Money::FromMicros(30'000'000));
  EXPECT_EQ(rows[0].sku_price_id, "Unknown/mystery/cache-write-1h/unknown-model");
  EXPECT_NE(rows[0].pricing_error.find("model \"mystery\" token type cache write 1h"),
            std::string::npos);
}

TEST(FocusRowsTest, ATokenTypeTheCardDoesNotPriceForAKnownModelIsFlagged) {
  const std::vector<FocusRow> rows =
      FocusRows({Call("partial", {.input = 10, .cache_write_5m = 10}, 208, kNoon)}, Card());
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(rows[0].pricing_error, "");
  EXPECT_EQ(rows[1].unit_price, Money::FromMicros(18'750'000));
  EXPECT_EQ(rows[1].pricing_error,
            "the rate card has no price for model \"partial\" token type cache write 5m: listed "
            "and charged at the card's unknownModel price");
  EXPECT_EQ(Billed(rows), 208);
}

TEST(FocusRowsTest, ADebitIsPricedByItsAmount) {
  FocusCharge debit = Call("sandbox", {}, 1'250'000, kNoon);
  debit.event = true;
  debit.calls = 3;
  const std::vector<FocusRow> rows = FocusRows({debit}, Card());
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].sku_id, "agentbudget/event/sandbox");
  EXPECT_EQ(rows[0].quantity, 3);
  EXPECT_EQ(rows[0].billed_micros, 1'250'000);
  EXPECT_EQ(rows[0].list_pico, Int128{1'250'000} * 1'000'000);
}

}  // namespace
}  // namespace agentbudget::core
