#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>

namespace agentbudget::webhook {

// The value at `path` (object keys, outermost first) inside `object`, or a JSON null when any
// step is missing or not an object. Never throws; the reference lives as long as `object`.
const nlohmann::json& Member(const nlohmann::json& object, std::initializer_list<const char*> path);

}  // namespace agentbudget::webhook
