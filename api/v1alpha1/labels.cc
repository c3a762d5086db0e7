#include "api/v1alpha1/labels.h"

#include "core/json_field.h"

namespace agentbudget::v1alpha1 {

bool IsSystemKey(std::string_view key) {
  return key.starts_with(keys::kPrefix) && key != keys::kModels && key != keys::kOutcome;
}

core::Labels LabelsOf(const nlohmann::json& object, const char* field) {
  core::Labels out;
  const nlohmann::json& map = core::Member(object, {"metadata", field});
  if (map.is_object()) {
    for (const auto& [key, value] : map.items()) {
      if (value.is_string()) {
        out[key] = value.get<std::string>();
      }
    }
  }
  return out;
}

}  // namespace agentbudget::v1alpha1
