#include "core/json_field.h"

namespace agentbudget::core {

std::string StringField(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) {
    return "";
  }
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}


const nlohmann::json& Member(const nlohmann::json& object, std::initializer_list<const char*> path) {
  static const nlohmann::json kNull;
  const nlohmann::json* at = &object;
  for (const char* key : path) {
    if (!at->is_object()) {
      return kNull;
    }
    auto it = at->find(key);
    if (it == at->end()) {
      return kNull;
    }
    at = &*it;
  }
  return *at;
}

}  // namespace agentbudget::core
