// Scans arbitrary bytes as JSON and checks the scan against nlohmann::json's parser: the
// same texts accepted, and for those the same objects, arrays, names, decoded strings and
// scalars in the same order; and the same texts accepted when no string is decoded.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/json_scan.h"
#include "tests/core/json_trace.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // nlohmann::json skips a leading byte order mark, which the scanner does not accept.
  if (input.starts_with("\xef\xbb\xbf")) {
    return 0;
  }
  agentbudget::core::JsonTrace scanned;
  const bool accepted = agentbudget::core::ScanJson(input, scanned);
  agentbudget::core::ReferenceTrace reference;
  const bool reference_accepted =
      nlohmann::json::sax_parse(input.begin(), input.end(), &reference);
  if (accepted != reference_accepted || (accepted && scanned.text() != reference.trace.text())) {
    std::abort();
  }
  struct Skipping : agentbudget::core::JsonTrace {
    bool WantsNextString() override { return false; }
  } skipping;
  if (agentbudget::core::ScanJson(input, skipping) != accepted) {
    std::abort();
  }
  return 0;
}
