#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "webhook/admission_context.h"
#include "webhook/admission_review.h"
#include "webhook/json_patch.h"
#include "webhook/rule_violation.h"
#include "webhook/system_metadata.h"

namespace agentbudget::webhook {

// How the meter sidecar is built: the webhook's flags. A value type.
struct MeterSettings {
  std::string image = "agentbudget/meter:0.1.0";
  std::string image_pull_policy = "IfNotPresent";
  std::string authority_url;  // the operator's budget authority, e.g. https://...:8443
  // The PEM the meter trusts for the authority (the content of --authority-ca-file at the
  // time of the admission); "" gives the meter none.
  std::string authority_ca;
  int port = 8787;                     // docs/design.md, "The meter": 127.0.0.1:8787
  std::string cpu_request = "50m";
  std::string memory_request = "32Mi";
  std::string cpu_limit = "500m";
  std::string memory_limit = "128Mi";
  int64_t run_as_user = 65532;
};

// Why a pod is left alone, or "" when the webhook governs it: not opted in, no workload, a
// mirror pod.
std::string WhyNotGoverned(const nlohmann::json& pod, const AdmissionContext& context);

// The first container, init container or volume of a creator's `pod_spec` (a pod's, or a
// Job's template's) named agentbudget-* (rule reserved-name); nullopt when none.
std::optional<RuleViolation> ReservedNameViolation(const nlohmann::json& pod_spec);

// A pod whose controller is a Job, created by anyone but the Job controller (rule
// job-owner); nullopt otherwise.
std::optional<RuleViolation> JobOwnerViolation(const nlohmann::json& pod,
                                               const AdmissionContext& context);

// Governs a pod on CREATE (docs/webhook.md, "Pod mutation"): allowed with the JSON Patch
// that adds the meter as a native sidecar (first init container, restartPolicy Always) with
// its config, the meter's volumes, provider base URLs (and placeholder keys under key
// custody) in every agent container, the scheduling gate for bare pods, and exactly the
// system labels and annotations PodSystemMetadata() computes (every other system key the
// creator wrote is removed). Whatever the pod carries, it is injected: nothing in it can
// decline injection. Denied when a JobOwnerViolation or ReservedNameViolation applies;
// allowed unchanged when the pod is not governed.
// Env rule: a variable the pod author set is kept, except under key custody, where the
// base URLs and API keys are always the meter's (a custody workload must not be bypassed).
AdmissionDecision MutatePod(const nlohmann::json& pod, const AdmissionContext& context,
                            const MeterSettings& meter);

// Governs a Job on CREATE (docs/webhook.md, "Job mutation"): allowed with the JSON Patch
// that sets spec.suspend, caps activeDeadlineSeconds by perRun.maxRuntime and backoffLimit
// by perRun.maxRetries of the Job's own workload (each set when absent, lowered when
// larger), and makes the system metadata of the Job and of its pod template exactly
// JobSystemMetadata() and TemplateSystemMetadata(). Denied when the template breaks the
// reserved-name rule; allowed unchanged when not governed.
AdmissionDecision MutateJob(const nlohmann::json& job, const AdmissionContext& context);

// What the webhook builds, for the mutation and for validation to compare against.
// REQUIRES (each): context.workload != nullptr.
//
// The meter container (the first init container of a governed pod).
nlohmann::json MeterContainer(const AdmissionContext& context, const MeterSettings& meter);
// The volumes the webhook adds to a governed pod, in order: the meter's token, spool and,
// when the workload mounts a Secret, credentials.
nlohmann::json InjectedVolumes(const v1alpha1::Workload& workload);
// The system metadata of a governed pod: the attribution with the run, and the
// agentbudget.io/injected record.
SystemMetadata PodSystemMetadata(const AdmissionContext& context, const MeterSettings& meter);
// Of a governed Job: the attribution, the injected record and the queue annotation
// {"state":"Pending","reason":"AwaitingAdmission"}.
SystemMetadata JobSystemMetadata(const AdmissionContext& context);
// Of a governed Job's pod template: the attribution (its pods get their run when admitted).
SystemMetadata TemplateSystemMetadata(const AdmissionContext& context);

// True when a pod spec's schedulingGates hold agentbudget.io/admission.
bool HasAdmissionGate(const nlohmann::json& pod_spec);

// True for pods owned by a Job (an ownerReference of kind Job, controller true); `uid`
// receives the Job's UID.
bool OwnedByJob(const nlohmann::json& pod, std::string* uid);

}  // namespace agentbudget::webhook
