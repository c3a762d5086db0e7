// Feeds arbitrary bytes to the TZif parser (time zone files are read from disk, but a
// corrupt or hostile file must still fail cleanly) and probes the parsed zone.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/time_zone.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace agentbudget::core;
  auto zone = TimeZone::Parse("fuzz", std::string_view(reinterpret_cast<const char*>(data), size));
  if (zone.ok()) {
    for (int64_t t : {int64_t{-2'000'000'000}, int64_t{0}, int64_t{1'800'000'000},
                      int64_t{4'000'000'000}}) {
      const SysSeconds instant{std::chrono::seconds{t}};
      (void)zone->FromLocal(zone->ToLocal(instant));
    }
  }
  return 0;
}
