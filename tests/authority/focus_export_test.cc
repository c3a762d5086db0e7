#include "operator/authority/focus_export.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <tuple>

#include "core/pricing.h"
#include "tests/authority/focus_csv.h"
#include "tests/authority/focus_entries.h"
#include "tests/authority/ledger_test_support.h"

namespace agentbudget::authority {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using Row = std::map<std::string, std::string>;

// A decimal of the export in units of 10^-12 (exact: the export prints at most 12 digits).
core::Int128 Pico(const std::string& text) {
  const size_t point = text.find('.');
  EXPECT_NE(point, std::string::npos) << text;
  std::string fraction = text.substr(point + 1);
  EXPECT_LE(fraction.size(), 12U) << text;
  fraction.resize(12, '0');
  return static_cast<core::Int128>(std::stoll(text.substr(0, point))) * 1'000'000'000'000 +
         std::stoll(fraction);
}

int64_t Micros(const std::string& text) { return static_cast<int64_t>(Pico(text) / 1'000'000); }

std::vector<Row> Export(const std::vector<LedgerEntry>& entries,
                        core::SysSeconds from = core::SysSeconds{},
                        core::SysSeconds to = core::SysSeconds::max()) {
  return testing::FocusRows(FocusExport(entries, from, to, TestRates(), {}));
}

const Row& Only(const std::vector<Row>& rows, const std::string& sku_price_id) {
  const Row* found = nullptr;
  for (const Row& row : rows) {
    if (row.at("SkuPriceId") == sku_price_id) {
      EXPECT_EQ(found, nullptr) << "two rows of " << sku_price_id;
      found = &row;
    }
  }
  static const Row kNone;
  EXPECT_NE(found, nullptr) << "no row of " << sku_price_id;
  return found != nullptr ? *found : kNone;
}

// Each column of `expected` has its value in `row`.
void ExpectColumns(const Row& row, const Row& expected) {
  for (const auto& [column, value] : expected) {
    EXPECT_EQ(row.at(column), value) << column;
  }
}

// A commit of `run` priced by the shipped card as the meter prices it.
LedgerEntry Call(const std::string& key, const std::string& run, const std::string& model,
                 core::Usage usage, core::SysSeconds at) {
  LedgerEntry entry;
  entry.kind = LedgerEntry::Kind::kCommit;
  entry.id = "r-" + key;
  entry.idempotency_key = key;
  entry.run = run;
  entry.namespace_name = "agents";
  entry.attribution = {{"team", "payments"}, {"user", "alice"}};
  entry.model = model;
  entry.token_types = {usage.input, usage.cache_read, usage.cache_write_5m,
                       usage.cache_write_1h, usage.output};
  entry.tokens = usage.Total();
  entry.cost_micros = core::PriceUsage(*TestRates().Resolve(model).rate, usage).micros();
  entry.at = at;
  return entry;
}

TEST(FocusExportTest, ACallBecomesOneRowPerTokenTypeAtTheRateCardsListPrice) {
  const std::vector<Row> rows = Export(Entries(), kNoon - seconds{3600}, kNoon + seconds{3600});
  ASSERT_EQ(rows.size(), 5U);  // four token types of the call (once), one debit
  const Row& read = Only(rows, "Anthropic/claude-sonnet-4-5/cache-read/standard");
  ExpectColumns(read, {{"SkuId", "Anthropic/claude-sonnet-4-5/cache-read"},
                       {"ConsumedQuantity", "800.0"},
                       {"ConsumedUnit", "Tokens"},
                       {"PricingUnit", "1000000 Tokens"},
                       {"PricingQuantity", "0.0008"},
                       {"ListUnitPrice", "0.3"},
                       {"ListCost", "0.00024"},
                       {"BilledCost", "0.00024"},
                       {"x_ConsumerId", "uid-1"},
                       {"x_PrincipalId", "alice"},
                       {"ServiceProviderName", "Anthropic"},
                       {"HostProviderName", "Anthropic"},
                       {"x_PricingError", ""},
                       {"ChargePeriodStart", "2026-11-27T12:00:00Z"}});
  EXPECT_EQ(Only(rows, "Anthropic/claude-sonnet-4-5/output/standard").at("ListUnitPrice"), "15.0");
  EXPECT_EQ(Only(rows, "Anthropic/claude-sonnet-4-5/cache-write-5m/standard").at("ListCost"),
            "0.000375");
  EXPECT_NE(read.at("Tags").find(R"("team":"payments")"), std::string::npos);
}

// FOCUS 1.3's split cost allocation columns are present and null: every charge is one
// run's own, none is split or allocated to another resource.
TEST(FocusExportTest, NoRowIsAnAllocatedCharge) {
  const std::vector<Row> rows = Export(Entries(), kNoon - seconds{3600}, kNoon + seconds{3600});
  ASSERT_FALSE(rows.empty());
  for (const Row& row : rows) {
    ExpectColumns(row, {{"AllocatedMethodDetails", ""},
                        {"AllocatedMethodId", ""},
                        {"AllocatedResourceId", ""},
                        {"AllocatedResourceName", ""},
                        {"AllocatedTags", ""}});
  }
}

TEST(FocusExportTest, AnAgentsReportedDebitIsARowOfItsOwn) {
  const std::vector<Row> rows = Export(Entries(), kNoon - seconds{3600}, kNoon + seconds{3600});
  const Row& debit = Only(rows, "agentbudget/event/sandbox/reported-cost");
  ExpectColumns(debit, {{"BilledCost", "0.0008"},
                        {"ConsumedQuantity", "1.0"},
                        {"ConsumedUnit", "Events"},
                        {"PricingQuantity", "0.0008"},
                        {"ListUnitPrice", "1.0"},
                        {"x_Run", "uid-1"},
                        {"x_Kind", "event"}});
}

// The reconciliation finance does: every row's list cost is its quantity at the card's
// price, and the billed costs sum to the ledger to the micro-dollar, per run and in all.
TEST(FocusExportTest, TotalsEqualTheLedgerAndEveryRowItsRateCardPrice) {
  std::vector<LedgerEntry> entries;
  std::map<std::string, int64_t> ledger_by_run;
  int64_t ledger_total = 0;
  const std::string models[] = {"claude-sonnet-4-5", "claude-haiku-4-5", "gpt-5", "gpt-5.4"};
  for (int i = 0; i < 300; ++i) {
    const core::Usage usage{.input = 37 * i % 5000 + 1, .cache_read = 101 * i % 90000,
                            .cache_write_5m = i % 3 == 0 ? 13 * i : 0,
                            .cache_write_1h = i % 7 == 0 ? 11 * i : 0, .output = 29 * i % 4000 + 1};
    const std::string run = "run-" + std::to_string(i % 9);
    entries.push_back(Call("k" + std::to_string(i), run, models[i % 4], usage,
                           kNoon + seconds{11 * i}));
    ledger_by_run[run] += entries.back().cost_micros;
    ledger_total += entries.back().cost_micros;
  }
  const std::vector<Row> rows = Export(entries);
  int64_t billed_total = 0;
  std::map<std::string, int64_t> billed_by_run;
  std::set<std::tuple<std::string, std::string, std::string>> identities;
  for (const Row& row : rows) {
    billed_total += Micros(row.at("BilledCost"));
    billed_by_run[row.at("x_Run")] += Micros(row.at("BilledCost"));
    EXPECT_EQ(Pico(row.at("ListUnitPrice")) * Pico(row.at("PricingQuantity")) / 1'000'000'000'000,
              Pico(row.at("ListCost")));
    EXPECT_EQ(Pico(row.at("PricingQuantity")) * 1'000'000, Pico(row.at("ConsumedQuantity")));
    const core::ResolvedRate rate = TestRates().Resolve(row.at("x_Model"));
    ASSERT_TRUE(rate.known) << row.at("x_Model");
    const std::string type = row.at("x_TokenType");
    const core::TokenPrices& p = rate.rate->prices;
    const core::Money price = type == "input"            ? p.input
                              : type == "cache read"     ? p.cache_read
                              : type == "cache write 5m" ? p.cache_write_5m
                              : type == "cache write 1h" ? p.cache_write_1h
                                                         : p.output;
    EXPECT_EQ(Micros(row.at("ListUnitPrice")), price.micros()) << row.at("SkuPriceId");
    // One row per charge period, run, model and token type.
    EXPECT_TRUE(identities
                    .emplace(row.at("ChargePeriodStart"), row.at("x_Run"), row.at("SkuPriceId"))
                    .second);
  }
  EXPECT_EQ(billed_total, ledger_total);
  EXPECT_EQ(billed_by_run, ledger_by_run);
  // 300 calls in under an hour of 36 runs and models: rows sum the calls of each.
  EXPECT_LE(rows.size(), 36U * 5);
}

TEST(FocusExportTest, ALongContextCallIsListedAtItsTiersPrice) {
  const std::vector<Row> rows = Export(
      {Call("big", "run-1", "claude-sonnet-4-5", {.input = 250'000, .output = 1000}, kNoon)});
  EXPECT_EQ(Only(rows, "Anthropic/claude-sonnet-4-5/input/above-200000-input-tokens")
                .at("ListUnitPrice"),
            "6.0");
  EXPECT_EQ(Only(rows, "Anthropic/claude-sonnet-4-5/output/above-200000-input-tokens")
                .at("ListCost"),
            "0.0225");
}

TEST(FocusExportTest, AFoldedTotalIsSplitByTypeAndCountsItsCalls) {
  LedgerEntry folded = Call("f", "run-1", "gpt-5", {.input = 3000, .cache_read = 9000, .output = 600},
                            kNoon);
  folded.idempotency_key.clear();
  folded.folded = 3;
  folded.cost_micros += 2;  // three calls, each rounded up on its own
  const std::vector<Row> rows = Export({folded});
  ASSERT_EQ(rows.size(), 3U);
  int64_t billed = 0;
  for (const Row& row : rows) {
    EXPECT_EQ(row.at("x_Calls"), "3");
    billed += Micros(row.at("BilledCost"));
  }
  EXPECT_EQ(billed, folded.cost_micros);
}

// Bad input: a model the rate card does not price is never listed at zero.
TEST(FocusExportTest, AModelTheCardDoesNotPriceIsFlaggedAndListedAtTheUnknownModelPrice) {
  LedgerEntry call = Call("u", "run-1", "acme-llm-9", {.input = 1000, .output = 10}, kNoon);
  ASSERT_FALSE(TestRates().Resolve("acme-llm-9").known);
  const std::vector<Row> rows = Export({call});
  const Row& input = Only(rows, "Unknown/acme-llm-9/input/unknown-model");
  EXPECT_EQ(input.at("ListUnitPrice"), "15.0");
  EXPECT_EQ(input.at("x_PricingError"),
            "the rate card has no price for model \"acme-llm-9\" token type input: listed and "
            "charged at the card's unknownModel price");
  EXPECT_NE(Only(rows, "Unknown/acme-llm-9/output/unknown-model").at("x_PricingError")
                .find("token type output"),
            std::string::npos);
  EXPECT_EQ(Micros(input.at("BilledCost")) +
                Micros(Only(rows, "Unknown/acme-llm-9/output/unknown-model").at("BilledCost")),
            call.cost_micros);
}

TEST(FocusExportTest, AnEntryWithoutTokenTypesIsOneFlaggedUnclassifiedRow) {
  LedgerEntry old = Entries()[0];
  old.token_types = {};
  const std::vector<Row> rows = Export({old});
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].at("SkuPriceId"), "Anthropic/claude-sonnet-4-5/unclassified/standard");
  EXPECT_EQ(rows[0].at("BilledCost"), "0.002715");
  EXPECT_NE(rows[0].at("x_PricingError").find("no token types"), std::string::npos);
}

TEST(FocusExportTest, ReportsAreNoCharges) {
  std::vector<LedgerEntry> entries = Entries();
  LedgerEntry report = entries[1];
  report.idempotency_key = "e9";
  report.model = "ceiling:maxCost";
  report.cost_micros = 0;
  ASSERT_TRUE(report.IsReport());
  entries.push_back(report);
  const std::string csv =
      FocusExport(entries, kNoon - seconds{3600}, kNoon + seconds{3600}, TestRates(), {});
  EXPECT_EQ(testing::FocusRows(csv).size(), 5U);
  EXPECT_EQ(csv.find("ceiling:"), std::string::npos);
}

TEST(FocusExportTest, RangeComesFromTheQuery) {
  auto range = ParseFocusRange("from=2026-11-01&to=2026-12-01T00:00:00Z");
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(Export(Entries(), range->first, range->second).size(), 5U);
  EXPECT_FALSE(ParseFocusRange("from=yesterday").ok());
  EXPECT_FALSE(ParseFocusRange("from=2026-12-01&to=2026-11-01").ok());
}

}  // namespace
}  // namespace agentbudget::authority
