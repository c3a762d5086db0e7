#include "webhook/json_member.h"

namespace agentbudget::webhook {

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

}  // namespace agentbudget::webhook
