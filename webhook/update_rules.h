#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/v1alpha1/agent_workload.h"
#include "webhook/admission_review.h"
#include "webhook/key_custody.h"

namespace agentbudget::webhook {

// The validating rules on UPDATE of Pods and Jobs, and of pods/ephemeralcontainers
// (docs/webhook.md, "Updates"). They apply to every requester but --operator-users, whom the
// handler lets through (the operator's queue unsuspends, ungates and writes the queue
// annotation). Pure functions over the stored object (`old_object`) and the update.

// What an update's judgement needs besides the objects. A value type.
struct UpdateContext {
  std::string namespace_name;
  std::string username;  // the requester
  std::vector<std::string> groups;
  // The object's governing workload: the one its agentbudget.io/workload label names (a
  // system label, stamped at creation and protected since), else one that selects it;
  // nullptr when none does.
  const v1alpha1::Workload* workload = nullptr;
  PodFeatures allowed_features;  // --allow-pod-features
};

// An update of a Pod is refused when it adds, changes or removes a system label or
// annotation (system-metadata), unless it is an approval ApprovalViolation() accepts; when
// it removes the agentbudget.io/admission scheduling gate (admission-gate); when it changes
// a container named agentbudget-* (meter-immutable).
AdmissionDecision ValidatePodUpdate(const nlohmann::json& old_pod, const nlohmann::json& pod,
                                    const UpdateContext& context);

// An update of a Job is refused when it changes the system metadata of the Job (approvals
// apart, as for pods) or of its pod template (system-metadata); or when it clears
// spec.suspend of a governed Job, one with a governing workload or the
// agentbudget.io/injected record (held-job): the queue releases held Jobs.
AdmissionDecision ValidateJobUpdate(const nlohmann::json& old_job, const nlohmann::json& job,
                                    const UpdateContext& context);

// An update of pods/ephemeralcontainers of a governed pod (one with a governing workload,
// the injected record or the meter) is refused (ephemeral-container) when an ephemeral
// container it adds is named agentbudget-*, targets an agentbudget-* container (it would
// share the meter's processes), or breaks key custody as ContainerViolation() judges it
// (mounts an agentbudget-* volume, references the workload's credentials Secret, is
// privileged unless allowed).
AdmissionDecision ValidateEphemeralContainers(const nlohmann::json& old_pod,
                                              const nlohmann::json& pod,
                                              const UpdateContext& context);

}  // namespace agentbudget::webhook
