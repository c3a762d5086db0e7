// core::SummariseRequest reads every agent request body the meter governs: for any bytes it
// must fail exactly when nlohmann::json::parse does not give an object, and otherwise give
// exactly the summary members of the parsed object. core::WithFirstMember, which adds
// stream_options to such a body, must give the same object with that member added.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/request_summary.h"

namespace core = agentbudget::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  const auto summary = core::SummariseRequest(body);
  if (summary.ok() != parsed.is_object()) {
    std::abort();
  }
  if (!summary.ok()) {
    return 0;
  }
  nlohmann::json expected = nlohmann::json::object();
  for (const auto& [name, value] : parsed.items()) {
    if (core::IsSummaryMember(name)) {
      expected[name] = value;
    }
  }
  if (*summary != expected) {
    std::abort();
  }
  if (!parsed.contains("stream_options")) {
    const nlohmann::json options = {{"include_usage", true}};
    nlohmann::json added = parsed;
    added["stream_options"] = options;
    if (nlohmann::json::parse(core::WithFirstMember(body, "stream_options", options), nullptr,
                              /*allow_exceptions=*/false) != added) {
      std::abort();
    }
  }
  return 0;
}
