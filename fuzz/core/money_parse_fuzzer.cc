// Money::Parse takes amounts from custom resources and protocol bodies: any byte string must
// either parse to an amount that prints back to an equal amount, or fail cleanly.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/money.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = agentbudget::core::Money::Parse(text);
  if (!parsed.ok()) {
    return 0;
  }
  auto again = agentbudget::core::Money::Parse(parsed->ToString());
  if (!again.ok() || *again != *parsed) {
    std::abort();
  }
  (void)parsed->ToFixed(2);
  return 0;
}
