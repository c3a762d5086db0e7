#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace agentbudget::core {

// What ScanJson reports, in document order. Each call returns false to stop the scan (which
// then fails). Strings are decoded (escapes resolved); the views are valid during the call.
class JsonHandler {
 public:
  virtual ~JsonHandler() = default;
  // `begin` is the offset of the '{' (or '[') in the text, `end` the offset just past the
  // '}' (or ']').
  virtual bool StartObject(size_t begin) = 0;
  virtual bool EndObject(size_t end) = 0;
  virtual bool StartArray(size_t begin) = 0;
  virtual bool EndArray(size_t end) = 0;
  // A member's name; its value follows.
  virtual bool Key(std::string_view name) = 0;
  virtual bool String(std::string_view value) = 0;
  // A number, true, false or null: `literal` is its text as it stands.
  virtual bool Scalar(std::string_view literal) = 0;
  // Asked before each string (a name or a value) is read: when false, the string is checked
  // as strictly but not decoded, and Key or String gets an empty view, which saves copying
  // long strings the handler skips.
  virtual bool WantsNextString() { return true; }
};

// Scans `text` as one JSON value (RFC 8259, surrounding whitespace allowed) in a single pass,
// without building it: a fraction of the cost of parsing a document, for readers that want
// a few members of each of many small messages. Accepts exactly the texts that
// nlohmann::json::parse accepts (strict UTF-8, paired surrogate escapes, numbers finite as
// doubles; no comments; any depth; the text ends at a NUL byte after the value), except that
// it refuses a leading byte order mark.
// Returns false, after reporting the part before the error, when the text is not such a
// value or the handler stopped. Reentrant; allocates only for wanted strings with escapes,
// numbers of 64 characters or more, and nesting deeper than 15.
bool ScanJson(std::string_view text, JsonHandler& handler);

}  // namespace agentbudget::core
