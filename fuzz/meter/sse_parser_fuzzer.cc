// Feeds arbitrary bytes, split at a point chosen by the input, to the SSE parser and checks
// that the raw bytes of the events (plus any unfinished tail) reproduce the input exactly.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/sse_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const size_t split = data[0] % (size);
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  agentbudget::core::SseParser parser(/*max_event_bytes=*/1 << 20);
  std::string joined;
  const auto collect = [&](const agentbudget::core::SseEvent& event) { joined += event.raw; };
  const size_t cut = split < input.size() ? split : input.size();
  if (!parser.Feed(input.substr(0, cut), collect).ok() ||
      !parser.Feed(input.substr(cut), collect).ok()) {
    return 0;
  }
  joined += parser.TakePartial();
  if (joined != input) {
    std::abort();
  }
  return 0;
}
