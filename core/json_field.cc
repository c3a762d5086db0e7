#include "core/json_field.h"

namespace agentbudget::core {

std::string StringField(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) {
    return "";
  }
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace agentbudget::core
