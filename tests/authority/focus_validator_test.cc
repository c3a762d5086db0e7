// The FOCUS export against the FinOps Foundation's validator (PyPI focus-validator, pinned
// in focus_validator_requirements.txt) and its bundled FOCUS 1.2 rules. A test of its own,
// labelled `tools`: it needs that validator, which `scripts/setup` installs, and runs with
// the e2e suites.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <cstdio>
#include <string_view>
#include <string>

#include "operator/authority/focus_export.h"
#include "tests/authority/focus_entries.h"
#include "tests/authority/ledger_test_support.h"

namespace agentbudget::authority {
namespace {

// What an export of this data can claim of FOCUS's applicability criteria: it names its
// billing account and sub-accounts, tags, measures usage, and lists unit prices from a
// public price list (the rate card) with resource types. Rules of every other criterion
// (regions, commitment discounts, capacity reservations, ...) do not apply to it.
constexpr char kApplicability[] =
    "ACCOUNT_NAMING_SUPPORTED,SUB_ACCOUNT_SUPPORTED,TAGGING_SUPPORTED,"
    "USAGE_MEASUREMENT_SUPPORTED,UNIT_PRICING_SUPPORTED,PUBLIC_PRICE_LIST_SUPPORTED,"
    "RESOURCE_TYPE_ASSIGNMENT_SUPPORTED";

std::string Read(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs focus-validator 2.2.1 offline (--block-download: its bundled rule set, FOCUS
// 1.2.0.1) on an export of calls of every token type, a long-context call, a folded total,
// an unknown model and a direct debit, with no rule switched off. Every rule but one that
// contradicts another passes or is skipped for a reason that is not a failure
// (docs/authority.md, "FOCUS export").
TEST(FocusExportTest, ExportPassesTheFinOpsFoundationValidatorForFocus12) {
  std::vector<LedgerEntry> entries = Entries();
  LedgerEntry big = entries[0];
  big.idempotency_key = "big";
  big.token_types = {.input = 250'000, .cache_write_1h = 4000, .output = 2000};
  big.tokens = 256'000;
  big.cost_micros = 1'593'000;
  LedgerEntry unknown = entries[0];
  unknown.idempotency_key = "unknown";
  unknown.model = "acme-llm-9";
  LedgerEntry folded = entries[0];
  folded.idempotency_key.clear();
  folded.folded = 4;
  entries.insert(entries.end(), {big, unknown, folded});
  const std::string dir = ::testing::TempDir();
  const std::string data = dir + "/agentbudget-focus.csv";
  const std::string report = dir + "/agentbudget-focus-report.txt";
  std::ofstream(data) << FocusExport(entries, core::SysSeconds{}, core::SysSeconds::max(),
                                     TestRates(), {});
  // The validator reads its currency-code table relative to the working directory: run it
  // from the directory holding the focus_validator package.
  const std::string command =
      "cd \"$(python3 -c 'import focus_validator, os; "
      "print(os.path.dirname(os.path.dirname(focus_validator.__file__)))')\" && "
      "focus-validator --validate-version 1.2 --block-download --applicability-criteria " +
      std::string(kApplicability) + " --data-file '" + data + "' > '" + report + "' 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0)
      << "focus-validator (scripts/setup installs it) failed:\n" << Read(report);
  const std::string output = Read(report);
  int total = -1, pass = -1, fail = -1, skip = -1;
  const size_t line = output.find("Total: ");
  ASSERT_NE(line, std::string::npos) << output;
  ASSERT_EQ(std::sscanf(output.c_str() + line, "Total: %d | Pass: %d | Fail: %d | Skipped: %d",
                        &total, &pass, &fail, &skip),
            4)
      << output;
  // The one rule no file can pass: the bundled model checks InvoiceId-C-004-C ("MUST be null
  // when the charge is not associated with an invoice": a violation per row WHERE InvoiceId
  // IS NOT NULL) and InvoiceId-C-005-C ("MUST NOT be null when it is": one per row WHERE
  // InvoiceId IS NULL) both with an empty Condition, so every row violates one of them
  // (with the column absent, the "RECOMMENDED to be present" rule and five more fail
  // instead). The ledger's charges are not invoiced: InvoiceId is null, C-004 passes and
  // C-005 counts every row.
  std::set<std::string> failed;
  constexpr std::string_view kFailure = "\n- ";
  for (size_t at = output.find(kFailure); at != std::string::npos;
       at = output.find(kFailure, at + 1)) {
    const size_t begin = at + kFailure.size();
    failed.insert(output.substr(begin, output.find(':', begin) - begin));
  }
  EXPECT_EQ(fail, 1) << output;
  EXPECT_EQ(failed, std::set<std::string>{"InvoiceId-C-005-C"}) << output;
  const std::string csv = Read(data);
  size_t rows = 0;
  for (size_t at = csv.find("\r\n"); at != std::string::npos; at = csv.find("\r\n", at + 2)) {
    ++rows;
  }
  EXPECT_NE(output.find("- InvoiceId-C-005-C: violations=" + std::to_string(rows - 1) + ";"),
            std::string::npos)
      << rows - 1 << " rows\n" << output;
  EXPECT_GT(pass, 150) << output;
  // A skip is a rule that does not apply or that the validator cannot check by itself, never
  // one whose dependency failed.
  EXPECT_EQ(output.find("dependency failed"), std::string::npos) << output;
  std::map<std::string, int> reasons;
  constexpr std::string_view kReason = "SKIPPED  (violations=0, reason=";
  for (size_t at = output.find(kReason); at != std::string::npos;
       at = output.find(kReason, at + 1)) {
    const size_t begin = at + kReason.size();
    ++reasons[output.substr(begin, output.find_first_of(",\n", begin) - begin)];
  }
  std::string summary;
  int skipped = 0;
  for (const auto& [reason, count] : reasons) {
    summary += std::to_string(count) + "  " + reason + "\n";
    skipped += count;
  }
  EXPECT_EQ(skipped, skip) << output;
  std::cout << "focus-validator: " << total << " rules, " << pass << " pass, " << fail
            << " fail, " << skip << " skipped, by reason:\n" << summary;
}

}  // namespace
}  // namespace agentbudget::authority
