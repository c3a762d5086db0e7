#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "webhook/admission_review.h"
#include "webhook/mutation.h"

namespace agentbudget::webhook {

// The validating rules on CREATE (docs/webhook.md, "Validation"). Pure functions: the
// handler resolves the context (namespace, workload, run, user, parent run, the requester's
// standing) and the fan-out count beforehand. Each returns Allow() or a denial that names
// the object, the rule as "(rule <id>)" and how to comply.
//
// The mutating webhook fails open (failurePolicy Ignore) and these fail closed, so they
// check the object as if it could have been written by anyone: what the mutation computes
// must be exactly there, forged copies refused.

// A governed pod (WhyNotGoverned() is "") is refused, in this order, when its namespace
// names no team (namespace-team); a Job ownerReference was set by someone other than the
// Job controller (job-owner); its first init container is not the meter (meter-missing);
// the meter differs from MeterContainer() (allowing what the API server defaults), another
// container is named agentbudget-*, or an agentbudget-* volume is not one of
// InjectedVolumes() (reserved-name), or one of those is missing (meter-missing); it breaks
// key custody (KeyCustodyViolation()); a bare pod lacks the admission scheduling gate
// (admission-gate) or the run label (system-metadata); its system labels and annotations
// are not exactly PodSystemMetadata() (system-metadata); it asks for a model the workload
// does not allow (allowed-models). A bare pod's run cannot be recomputed (it is the
// mutation's request UID), so it is taken from its run label, which the meter's
// AGENTBUDGET_RUN must equal. Pods the webhook does not govern are allowed.
AdmissionDecision ValidatePod(const nlohmann::json& pod, const AdmissionContext& context,
                              const MeterSettings& meter);

// A governed Job is refused when its namespace names no team (namespace-team); its pod
// template names a container or volume agentbudget-* (reserved-name) or breaks key custody;
// it is not suspended (held-job); activeDeadlineSeconds or backoffLimit is unset or above
// perRun.maxRuntime or perRun.maxRetries (max-runtime, max-retries); the system metadata of
// the Job or its template is not exactly JobSystemMetadata() or TemplateSystemMetadata()
// (system-metadata); it asks for a model the workload does not allow (allowed-models).
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

// The denial for a subagent over its parent run's fan-out cap (onLimit: Reject): "run <run>
// has already created <count> of <cap> subagents (perRun.maxSubagents of AgentWorkload <w>,
// onLimit: Reject) (rule max-subagents); ...".
AdmissionDecision FanoutDenial(const std::string& parent_run, int64_t count, int64_t cap,
                               const std::string& workload);

}  // namespace agentbudget::webhook
