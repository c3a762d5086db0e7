// Watch bodies cut at arbitrary points: the decoder must never crash, whatever arrives.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kube/watch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  agentbudget::kube::WatchDecoder decoder;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // The first byte chooses the read size, so splits land everywhere.
  std::size_t step = size == 0 ? 1 : 1 + data[0] % 64;
  for (std::size_t offset = 0; offset < input.size(); offset += step) {
    if (!decoder.Feed(input.substr(offset, step)).ok()) {
      break;
    }
  }
  return 0;
}
