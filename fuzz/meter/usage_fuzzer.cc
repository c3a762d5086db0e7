// Runs arbitrary bytes through every usage extractor: as a response body of each API and as
// a stream of SSE events of each API. Nothing may crash, and every count must stay
// non-negative.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/sse_parser.h"
#include "core/stream_usage.h"
#include "core/usage.h"

namespace {

void CheckUsage(const agentbudget::core::Usage& usage) {
  if (usage.input < 0 || usage.cache_read < 0 || usage.cache_write_5m < 0 ||
      usage.cache_write_1h < 0 || usage.output < 0 || usage.reasoning < 0) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using agentbudget::core::Api;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (Api api : {Api::kAnthropicMessages, Api::kOpenAIChat, Api::kOpenAIResponses}) {
    auto read = agentbudget::core::UsageFromResponseBody(api, input);
    if (read.ok()) {
      CheckUsage(read->usage);
    }
    agentbudget::core::SseParser parser(1 << 20);
    agentbudget::core::StreamUsageTracker tracker(api, /*strip_usage_chunk=*/true);
    (void)parser.Feed(input, [&](const agentbudget::core::SseEvent& event) { tracker.OnEvent(event); });
    CheckUsage(tracker.Finish(/*estimated_input=*/1).usage);
  }
  return 0;
}
