#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace agentbudget::testing {

// The nice values of this process's threads named `name` (as NameThread sets it), read
// from /proc/self/task/<tid>/stat: its 19th field, counted after the name's closing ')'.
inline std::vector<int> NiceOfThreads(std::string_view name) {
  std::vector<int> nices;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::string comm;
    std::getline(std::ifstream(task.path() / "comm"), comm);
    if (comm != name) {
      continue;
    }
    std::string stat;
    std::getline(std::ifstream(task.path() / "stat"), stat);
    const size_t end = stat.rfind(')');
    if (end == std::string::npos) {
      continue;  // the thread ended while being read
    }
    // Fields 3 (the state) to 18 come first.
    std::istringstream fields(stat.substr(end + 1));
    std::string skipped;
    for (int field = 3; field < 19; ++field) {
      fields >> skipped;
    }
    int nice = 0;
    if (fields >> nice) {
      nices.push_back(nice);
    }
  }
  return nices;
}

}  // namespace agentbudget::testing
