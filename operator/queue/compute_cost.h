#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "core/time_zone.h"

namespace agentbudget::queue {

// What an agent pod's own compute costs (docs/admission-queue.md): CPU and memory requests times
// its runtime times configured prices, in micro-USD.
struct ComputePrices {
  int64_t micros_per_core_hour = 0;  // --cpu-price-per-core-hour
  int64_t micros_per_gib_hour = 0;   // --memory-price-per-gib-hour
};

// A Kubernetes quantity in milli-units: "500m" → 500, "2" → 2000, "1.5" → 1500,
// "1Gi" → 1073741824000, "1k" → 1000000. kInvalidArgument for anything else or overflow.
Result<int64_t> ParseQuantityMillis(const std::string& text);

// The pod's requested CPU (millicores) and memory (bytes): its containers plus its native
// sidecars (init containers with restartPolicy Always), which run as long as the pod.
// Malformed quantities count as zero.
struct PodRequests {
  int64_t millicores = 0;
  int64_t memory_bytes = 0;
};
PodRequests RequestsOf(const nlohmann::json& pod);

// How long the pod ran, in seconds: from status.startTime to the last container's
// termination, or to `ended` (its deletion) when no container says; nullopt when it never
// started or the times do not parse.
std::optional<int64_t> RuntimeSeconds(const nlohmann::json& pod, core::SysSeconds ended);

// requests × runtime × prices in micro-USD, rounded up to the micro. Saturates instead of
// overflowing.
int64_t ComputeCostMicros(const PodRequests& requests, int64_t seconds,
                          const ComputePrices& prices);

}  // namespace agentbudget::queue
