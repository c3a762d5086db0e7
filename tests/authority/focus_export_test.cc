#include "operator/authority/focus_export.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace agentbudget::authority {
namespace {

using std::chrono::seconds;

const core::SysSeconds kNoon{seconds{1'795'780'800}};  // 2026-11-27T12:00:00Z

std::vector<LedgerEntry> Entries() {
  LedgerEntry call;
  call.kind = LedgerEntry::Kind::kCommit;
  call.id = "r-1";
  call.run = "uid-1";
  call.idempotency_key = "c1";
  call.namespace_name = "agents";
  call.attribution = {{"team", "payments"}, {"user", "alice"}, {"repo", "org/app"},
                      {"model", "claude-sonnet-4-5"}};
  call.model = "claude-sonnet-4-5";
  call.cost_micros = 2100;
  call.tokens = 1200;
  call.at = kNoon;
  LedgerEntry debit = call;
  debit.kind = LedgerEntry::Kind::kEvent;
  debit.id = "e-2";
  debit.idempotency_key = "e1";
  debit.model = "compute";
  debit.cost_micros = 800;
  debit.tokens = 0;
  LedgerEntry earlier = call;
  earlier.idempotency_key = "c0";
  earlier.at = kNoon - seconds{86400 * 40};
  return {call, debit, call, earlier};
}

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

// Runs the FinOps Foundation's validator (PyPI focus-validator) on an export. Its newest
// rule set is FOCUS 1.0 and still carries pre-1.0 column names; the rules that cannot pass
// on a correct file are listed, with why, in focus_validator_overrides.yaml.
TEST(FocusExportTest, ExportPassesTheFinOpsFoundationValidator) {
  const std::string dir = ::testing::TempDir();
  const std::string data = dir + "/agentbudget-focus.csv";
  const std::string report = dir + "/agentbudget-focus-report.txt";
  std::ofstream(data) << FocusExport(Entries(), core::SysSeconds{}, core::SysSeconds::max(), {});
  const std::string overrides = std::string(AGENTBUDGET_TEST_DIR) + "/focus_validator_overrides.yaml";
  // The validator reads its currency-code table relative to the working directory: run it
  // from the directory holding the focus_validator package.
  const std::string command =
      "cd \"$(python3 -c 'import focus_validator, os; "
      "print(os.path.dirname(os.path.dirname(focus_validator.__file__)))')\" && "
      "focus-validator --validate-version 1.0 --data-file '" + data + "' --override-file '" +
      overrides + "' > '" + report + "' 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << "is focus-validator installed?";
  std::ifstream in(report);
  const std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(output.find("failed"), std::string::npos) << output;
  EXPECT_NE(output.find("Validation succeeded."), std::string::npos) << output;
}

}  // namespace
}  // namespace agentbudget::authority
