#include "core/request_summary.h"

#include <optional>
#include <string>

#include "core/json_scan.h"

namespace agentbudget::core {
namespace {

using nlohmann::json;

// Keeps the summary members of the root object; containers among them are read again from
// their span of the text.
class SummaryReader : public JsonHandler {
 public:
  explicit SummaryReader(std::string_view text) : text_(text) {}

  bool StartObject(size_t begin) override { return Open(begin); }
  bool EndObject(size_t end) override { return Close(end); }
  bool StartArray(size_t begin) override { return Open(begin); }
  bool EndArray(size_t end) override { return Close(end); }
  bool Key(std::string_view name) override {
    if (depth_ == 1) {
      value_next_ = true;
      member_.reset();
      if (IsSummaryMember(name)) {
        if (summary_.contains(name)) {
          repeated_.emplace(name);
          return false;
        }
        member_.emplace(name);
      }
    }
    return true;
  }
  bool String(std::string_view value) override {
    if (depth_ == 1 && member_) {
      summary_[*member_] = std::string(value);
    }
    value_next_ = false;
    return true;
  }
  bool Scalar(std::string_view literal) override {
    if (depth_ == 1 && member_) {
      summary_[*member_] = json::parse(literal);  // a literal the scan accepted
    }
    value_next_ = false;
    return true;
  }

  // Only the root's member names and the summary members' string values are read.
  bool WantsNextString() override { return depth_ == 1 && (!value_next_ || member_); }

  bool root_is_object() const { return root_is_object_; }
  // The summary member named twice, which stopped the scan.
  const std::optional<std::string>& repeated() const { return repeated_; }
  json& summary() { return summary_; }

 private:
  bool Open(size_t begin) {
    value_next_ = false;
    if (depth_ == 0) {
      root_is_object_ = text_[begin] == '{';
    } else if (depth_ == 1 && member_) {
      begin_ = begin;
    }
    ++depth_;
    return true;
  }
  bool Close(size_t end) {
    --depth_;
    if (depth_ == 1 && member_) {
      summary_[*member_] = json::parse(text_.substr(begin_, end - begin_));
    }
    return true;
  }

  const std::string_view text_;
  size_t depth_ = 0;  // containers open around the current value
  bool root_is_object_ = false;
  bool value_next_ = false;            // a root member's name was read, its value comes next
  std::optional<std::string> member_;  // the root's member being read, when a summary one
  size_t begin_ = 0;                   // where the member's container starts
  std::optional<std::string> repeated_;
  json summary_ = json::object();
};

}  // namespace

bool IsSummaryMember(std::string_view name) {
  return name == "model" || name == "stream" || name == "stream_options" ||
         name == "max_tokens" || name == "max_completion_tokens" ||
         name == "max_output_tokens";
}

std::string WithFirstMember(std::string_view body, std::string_view name,
                            const json& value) {
  // Just past the root object's '{': only a byte order mark or whitespace comes before it.
  const size_t open = body.find('{') + 1;
  const size_t next = body.find_first_not_of(" \t\r\n", open);
  const bool empty = next != std::string_view::npos && body[next] == '}';
  std::string out(body.substr(0, open));
  out += json(std::string(name)).dump();
  out += ':';
  out += value.dump();
  if (!empty) {
    out += ',';
  }
  out += body.substr(open);
  return out;
}

Result<json> SummariseRequest(std::string_view body) {
  // json::parse skips a leading UTF-8 byte order mark; so does this.
  if (body.starts_with("\xef\xbb\xbf")) {
    body.remove_prefix(3);
  }
  SummaryReader reader(body);
  if (!ScanJson(body, reader)) {
    if (reader.repeated()) {
      return InvalidArgument("the request body names \"" + *reader.repeated() + "\" twice");
    }
    return InvalidArgument("the request body is not JSON");
  }
  if (!reader.root_is_object()) {
    return InvalidArgument("the request body is not a JSON object");
  }
  return std::move(reader.summary());
}

}  // namespace agentbudget::core
