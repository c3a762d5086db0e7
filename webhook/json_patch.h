#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace agentbudget::webhook {

// Escapes one reference token of a JSON Pointer (RFC 6901 §3): "~" becomes "~0" and "/"
// becomes "~1", in that order, so "agentbudget.io/run" becomes "agentbudget.io~1run".
std::string EscapePointerToken(std::string_view token);

// Joins escaped tokens into a pointer: {"metadata", "labels", "a/b"} -> "/metadata/labels/a~1b".
std::string Pointer(std::initializer_list<std::string_view> tokens);

// Builds an RFC 6902 JSON Patch (an array of operations). A value type; not thread-safe.
class PatchBuilder {
 public:
  // {"op": "add", "path": path, "value": value}. `path` is an already-escaped pointer.
  void Add(std::string path, nlohmann::json value);
  // {"op": "replace", ...}: the target must exist.
  void Replace(std::string path, nlohmann::json value);
  // {"op": "remove", "path": path}: the target must exist.
  void Remove(std::string path);

  // Makes every key -> value of `members` hold in the object at `object_path` (e.g.
  // "/metadata/labels"), whose present value is `current` (null when absent): adds the
  // whole object when it is absent, otherwise adds or replaces only the members that
  // differ. Returns how many members changed.
  size_t SetMembers(const std::string& object_path, const nlohmann::json& current,
                    const nlohmann::json& members);

  // Appends `value` to the array at `array_path` that `current` describes (null: absent):
  // adds a one-element array, or "<path>/-".
  void Append(const std::string& array_path, const nlohmann::json& current,
              nlohmann::json value);

  bool empty() const { return ops_.empty(); }
  size_t size() const { return ops_.size(); }
  const nlohmann::json& ops() const { return ops_; }

 private:
  nlohmann::json ops_ = nlohmann::json::array();
};

}  // namespace agentbudget::webhook
