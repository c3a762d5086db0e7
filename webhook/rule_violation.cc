#include "webhook/rule_violation.h"

#include "core/json_field.h"

namespace agentbudget::webhook {

std::string SubjectOf(const char* kind, const std::string& namespace_name,
                      const nlohmann::json& object) {
  const nlohmann::json& metadata = core::Member(object, {"metadata"});
  std::string name = core::StringField(metadata, "name");
  if (name.empty() && !core::StringField(metadata, "generateName").empty()) {
    name = core::StringField(metadata, "generateName") + "*";
  }
  if (name.empty()) {
    name = "(unnamed)";
  }
  return std::string(kind) + " " + (namespace_name.empty() ? "" : namespace_name + "/") + name;
}

}  // namespace agentbudget::webhook
