#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/json_scan.h"

namespace agentbudget::core {

// What a ScanJson reported, as text: each token with its length, so that no two traces run
// together. For comparing the scanner with nlohmann::json (ReferenceTrace).
class JsonTrace : public JsonHandler {
 public:
  bool StartObject(size_t) override { return Add("{"); }
  bool EndObject(size_t) override { return Add("}"); }
  bool StartArray(size_t) override { return Add("["); }
  bool EndArray(size_t) override { return Add("]"); }
  bool Key(std::string_view name) override { return Add("k", name); }
  bool String(std::string_view value) override { return Add("s", value); }
  bool Scalar(std::string_view) override { return Add("v"); }

  bool Add(std::string_view kind, std::string_view text = {}) {
    text_.append(kind).append(std::to_string(text.size())).append(":").append(text);
    return true;
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// The same trace from nlohmann::json's own parser, the reference.
struct ReferenceTrace : nlohmann::json_sax<nlohmann::json> {
  bool null() override { return trace.Add("v"); }
  bool boolean(bool) override { return trace.Add("v"); }
  bool number_integer(number_integer_t) override { return trace.Add("v"); }
  bool number_unsigned(number_unsigned_t) override { return trace.Add("v"); }
  bool number_float(number_float_t, const string_t&) override { return trace.Add("v"); }
  bool string(string_t& value) override { return trace.Add("s", value); }
  bool binary(binary_t&) override { return false; }  // not in JSON text
  bool start_object(std::size_t) override { return trace.Add("{"); }
  bool key(string_t& name) override { return trace.Add("k", name); }
  bool end_object() override { return trace.Add("}"); }
  bool start_array(std::size_t) override { return trace.Add("["); }
  bool end_array() override { return trace.Add("]"); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }
  JsonTrace trace;
};

}  // namespace agentbudget::core
