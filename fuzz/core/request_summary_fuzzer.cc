// core::SummariseRequest reads every agent request body the meter governs: for any bytes it
// must fail exactly when nlohmann::json::parse does not give an object or the object names
// a summary member twice (counted by nlohmann's own SAX parser), and otherwise give exactly
// the summary members of the parsed object. core::WithFirstMember, which adds
// stream_options to such a body, must give the same object with that member added.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/request_summary.h"

namespace core = agentbudget::core;

namespace {

// Whether the root object names a summary member twice.
struct RepeatedMember : nlohmann::json_sax<nlohmann::json> {
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return ++depth, true; }
  bool key(string_t& name) override {
    if (depth == 1 && core::IsSummaryMember(name) && !seen.insert(name).second) {
      repeated = true;
    }
    return true;
  }
  bool end_object() override { return --depth, true; }
  bool start_array(std::size_t) override { return ++depth, true; }
  bool end_array() override { return --depth, true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }
  int depth = 0;
  std::set<std::string> seen;
  bool repeated = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  RepeatedMember members;
  nlohmann::json::sax_parse(body.begin(), body.end(), &members);
  const auto summary = core::SummariseRequest(body);
  if (summary.ok() != (parsed.is_object() && !members.repeated)) {
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
