#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace agentbudget::e2e {

struct CommandResult {
  int exit_code = -1;  // the process's exit status, or 128 + signal when killed
  std::string output;  // stdout and stderr, interleaved as written
};

// Runs argv[0] (looked up on PATH) with the given arguments, without a shell, feeding
// `stdin_text` to its standard input, and waits for it to exit. Fails only when the process
// cannot be started; a non-zero exit is a successful CommandResult. Thread-safe.
// REQUIRES: !argv.empty().
Result<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                 const std::string& stdin_text = "");

}  // namespace agentbudget::e2e
