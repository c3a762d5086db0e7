#pragma once

#include <initializer_list>
#include <string>

#include <nlohmann/json.hpp>

namespace agentbudget::core {

// object[key] when `object` is an object and the member is a string; "" otherwise. For
// reading untrusted JSON without nlohmann::json's type exceptions. Never throws.
std::string StringField(const nlohmann::json& object, const char* key);

// The value at `path` (object keys, outermost first) inside `object`, or a JSON null when any
// step is missing or not an object. Never throws; the reference lives as long as `object`.
const nlohmann::json& Member(const nlohmann::json& object, std::initializer_list<const char*> path);

}  // namespace agentbudget::core
