#pragma once

#include <string>
#include <vector>

#include "core/budget_decision.h"
#include "core/label_selector.h"
#include "core/run_envelope.h"

namespace agentbudget::authority {

// Where a run's meter gets its provider keys: its own Secret volume, or the authority
// (GET /v1/credentials). AgentWorkload spec.meter.keySource.
enum class KeySource { kSecret, kAuthority };

// Who is calling the authority, resolved from the caller's ServiceAccount token: its pod,
// the run the pod belongs to, and what the run's workload allows. A pod can only charge
// this run. A value type.
struct Caller {
  std::string namespace_name;
  std::string pod;
  std::string run;       // agentbudget.io/run: the top-level Job's UID
  std::string workload;  // agentbudget.io/workload
  // Attribution from the pod's labels and annotations (team, workflow, repo, environment,
  // user, workload); the model is added per request.
  core::Labels attribution;
  core::Labels namespace_labels;
  core::WorkPriority priority = core::WorkPriority::kStandard;
  std::vector<std::string> fallback_models;  // AgentWorkload spec.models.fallback
  core::EnvelopeLimits run_limits;           // AgentWorkload spec.perRun
  KeySource key_source = KeySource::kSecret;  // AgentWorkload spec.meter.keySource
};

}  // namespace agentbudget::authority
