#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "webhook/admission_review.h"
#include "webhook/mutation.h"

namespace agentbudget::webhook {

// The validating rules (docs/webhook.md, "Validation"). Pure functions: the server resolves the
// context (namespace, workload, run, parent run) and the fan-out count beforehand. Each
// returns Allow() or a denial whose message names the object, the rule and the fix.

// A governed pod must carry the meter sidecar and the attribution labels (so that the
// mutating webhook's failurePolicy Ignore cannot let an unmetered pod through), its
// namespace must name a team, and the models it asks for must be allowed. A hostNetwork
// pod that a workload selects is denied (the meter cannot own its loopback); pods the
// webhook does not govern are allowed.
AdmissionDecision ValidatePod(const nlohmann::json& pod, const AdmissionContext& context);

// A governed Job must be created suspended (the operator admits it) with the attribution
// labels, in a namespace that names a team, asking only for allowed models.
AdmissionDecision ValidateJob(const nlohmann::json& job, const AdmissionContext& context);

// Checks on an AgentWorkload beyond its schema's CEL rules: the spec parses (selector,
// maxRuntime as a duration up to ten years), maxCost fits the integer money type, tags do
// not try to set team or cost center (they come from the namespace) or use the
// agentbudget.io/ prefix, the credentials Secret name is a DNS subdomain.
AdmissionDecision ValidateAgentWorkload(const nlohmann::json& workload);

// Checks on an AgentBudget beyond its schema: the amount fits the integer money type, the
// time zone exists in the zone database under `zoneinfo_dir`, alert thresholds are unique,
// the selectors parse.
AdmissionDecision ValidateAgentBudget(const nlohmann::json& budget,
                                      const std::string& zoneinfo_dir = "/usr/share/zoneinfo");

// The models an object's containers ask for: literal values of the model env vars
// (ANTHROPIC_MODEL, ANTHROPIC_SMALL_FAST_MODEL, ANTHROPIC_DEFAULT_{OPUS,SONNET,HAIKU}_MODEL,
// OPENAI_MODEL, AGENTBUDGET_MODEL) in every container but the meter, and the
// comma-separated agentbudget.io/models annotation. `pod_spec` is a pod's spec;
// `annotations` the object's (or template's) annotations.
struct RequestedModel {
  std::string model;
  std::string source;  // "container agent env ANTHROPIC_MODEL", "annotation agentbudget.io/models"
};
std::vector<RequestedModel> RequestedModels(const nlohmann::json& pod_spec,
                                            const nlohmann::json& annotations);

// The denial for a subagent over its parent run's fan-out cap (onLimit: Reject):
// "run <run> has created <count> of <cap> subagents (maxSubagents of AgentWorkload <w>)".
AdmissionDecision FanoutDenial(const std::string& parent_run, int64_t count, int64_t cap,
                               const std::string& workload);

}  // namespace agentbudget::webhook
