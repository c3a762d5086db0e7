#pragma once

#include <string>

#include "core/time_zone.h"

namespace agentbudget::core {

// "2026-11-27T21:00:00Z" (RFC 3339, UTC, whole seconds).
std::string FormatRfc3339(core::SysSeconds instant);

// Parses "2026-11-27T21:00:00Z" or a date "2026-11-27" (midnight UTC). Fails with
// kInvalidArgument for anything else.
Result<core::SysSeconds> ParseRfc3339(const std::string& text);

}  // namespace agentbudget::core
