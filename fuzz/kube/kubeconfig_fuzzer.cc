// Kubeconfig text: any input gives a config or an error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kube/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // No base directory: relative file references resolve nowhere useful and fail cleanly.
  (void)agentbudget::kube::ParseKubeconfig(text, "", "", "fuzz");
  return 0;
}
