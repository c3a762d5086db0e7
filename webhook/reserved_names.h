#pragma once

#include <string_view>

namespace agentbudget::webhook {

// Names in a governed pod that belong to agentbudget (docs/webhook.md, "Pod mutation"):
// containers and volumes named with kReservedPrefix are the webhook's alone.
inline constexpr std::string_view kReservedPrefix = "agentbudget-";
inline constexpr const char* kCredentialsVolume = "agentbudget-credentials";
inline constexpr const char* kTokenVolume = "agentbudget-token";
inline constexpr const char* kSpoolVolume = "agentbudget-spool";
// The audience of the meter's projected service-account token: what the budget authority
// accepts. A pod's own token for this audience would speak to the authority as the meter.
inline constexpr const char* kTokenAudience = "agentbudget";

inline bool IsReservedName(std::string_view name) { return name.starts_with(kReservedPrefix); }

}  // namespace agentbudget::webhook
