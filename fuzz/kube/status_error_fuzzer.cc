// Error bodies from an API server (or whatever answers in its place) map to an Error.
#include <cstddef>
#include <cstdint>
#include <string>

#include "kube/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) {
    return 0;
  }
  agentbudget::kube::HttpResponse response;
  response.status = 400 + data[0] % 200;
  response.headers["retry-after"] = std::string(1, static_cast<char>(data[1]));
  response.body.assign(reinterpret_cast<const char*>(data + 2), size - 2);
  agentbudget::Error error = agentbudget::kube::ErrorFromResponse(response);
  (void)agentbudget::kube::StatusReason(response.body);
  // Every mapping carries a message; an empty one would be a bug worth a crash report.
  if (error.message.empty()) {
    __builtin_trap();
  }
  return 0;
}
