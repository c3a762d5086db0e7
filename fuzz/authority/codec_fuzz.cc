// Feeds arbitrary bytes to every authority request decoder: each must return a value or
// an error, never crash, throw or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "operator/authority/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace agentbudget::authority;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  (void)DecodeReserve(body);
  (void)DecodeCommit(body);
  (void)DecodeRelease(body);
  (void)DecodeEvent(body);
  return 0;
}
