#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace agentbudget::core {

// object[key] when `object` is an object and the member is a string; "" otherwise. For
// reading untrusted JSON without nlohmann::json's type exceptions. Never throws.
std::string StringField(const nlohmann::json& object, const char* key);

}  // namespace agentbudget::core
