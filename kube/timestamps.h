#pragma once

#include <chrono>
#include <string>

namespace agentbudget::kube {

// Kubernetes `Time`: RFC 3339 in UTC with whole seconds, "2026-01-02T15:04:05Z".
std::string FormatTime(std::chrono::system_clock::time_point time);
// Kubernetes `MicroTime`: microseconds, "2026-01-02T15:04:05.000000Z".
std::string FormatMicroTime(std::chrono::system_clock::time_point time);

}  // namespace agentbudget::kube
