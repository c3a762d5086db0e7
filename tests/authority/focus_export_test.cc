#include "operator/authority/focus_export.h"

#include <gtest/gtest.h>

#include "tests/authority/focus_entries.h"

namespace agentbudget::authority {
namespace {

using std::chrono::seconds;

size_t Rows(const std::string& csv) {
  size_t rows = 0;
  for (size_t at = csv.find("\r\n"); at != std::string::npos; at = csv.find("\r\n", at + 2)) {
    ++rows;
  }
  return rows - 1;
}

TEST(FocusExportTest, ExportsEachEntryInTheRangeOnce) {
  const std::string csv = FocusExport(Entries(), kNoon - seconds{3600}, kNoon + seconds{3600}, {});
  EXPECT_EQ(Rows(csv), 2U);
  EXPECT_NE(csv.find("AI and Machine Learning"), std::string::npos);
  EXPECT_NE(csv.find("0.002100"), std::string::npos);
  EXPECT_NE(csv.find(R"(""team"":""payments"")"), std::string::npos);
}

TEST(FocusExportTest, ReportsAreNoCharges) {
  std::vector<LedgerEntry> entries = Entries();
  LedgerEntry report = entries[1];
  report.idempotency_key = "e9";
  report.model = "ceiling:maxCost";
  report.cost_micros = 0;
  ASSERT_TRUE(report.IsReport());
  entries.push_back(report);
  const std::string csv = FocusExport(entries, kNoon - seconds{3600}, kNoon + seconds{3600}, {});
  EXPECT_EQ(Rows(csv), 2U);
  EXPECT_EQ(csv.find("ceiling:"), std::string::npos);
}

TEST(FocusExportTest, RangeComesFromTheQuery) {
  auto range = ParseFocusRange("from=2026-11-01&to=2026-12-01T00:00:00Z");
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(Rows(FocusExport(Entries(), range->first, range->second, {})), 2U);
  EXPECT_FALSE(ParseFocusRange("from=yesterday").ok());
  EXPECT_FALSE(ParseFocusRange("from=2026-12-01&to=2026-11-01").ok());
}

}  // namespace
}  // namespace agentbudget::authority
