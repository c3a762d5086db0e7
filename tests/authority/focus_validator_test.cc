// The FOCUS export against the FinOps Foundation's validator (PyPI focus-validator, pinned
// in focus_validator_requirements.txt). A test of its own, labelled `tools`: it needs that
// validator, which `scripts/setup` installs, and runs with the e2e suites.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "operator/authority/focus_export.h"
#include "tests/authority/focus_entries.h"

namespace agentbudget::authority {
namespace {

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
