#include "webhook/json_patch.h"

#include <utility>

namespace agentbudget::webhook {

std::string EscapePointerToken(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Pointer(std::initializer_list<std::string_view> tokens) {
  std::string out;
  for (std::string_view token : tokens) {
    out += '/';
    out += EscapePointerToken(token);
  }
  return out;
}

void PatchBuilder::Add(std::string path, nlohmann::json value) {
  ops_.push_back({{"op", "add"}, {"path", std::move(path)}, {"value", std::move(value)}});
}

void PatchBuilder::Replace(std::string path, nlohmann::json value) {
  ops_.push_back({{"op", "replace"}, {"path", std::move(path)}, {"value", std::move(value)}});
}

void PatchBuilder::Remove(std::string path) {
  ops_.push_back({{"op", "remove"}, {"path", std::move(path)}});
}

size_t PatchBuilder::SetMembers(const std::string& object_path, const nlohmann::json& current,
                                const nlohmann::json& members) {
  if (members.empty()) {
    return 0;
  }
  if (!current.is_object()) {
    Add(object_path, members);
    return members.size();
  }
  size_t changed = 0;
  for (const auto& [key, value] : members.items()) {
    auto it = current.find(key);
    if (it != current.end() && *it == value) {
      continue;
    }
    const std::string path = object_path + "/" + EscapePointerToken(key);
    if (it == current.end()) {
      Add(path, value);
    } else {
      Replace(path, value);
    }
    ++changed;
  }
  return changed;
}

void PatchBuilder::Append(const std::string& array_path, const nlohmann::json& current,
                          nlohmann::json value) {
  if (!current.is_array()) {
    Add(array_path, nlohmann::json::array({std::move(value)}));
  } else {
    Add(array_path + "/-", std::move(value));
  }
}

}  // namespace agentbudget::webhook
