#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/label_selector.h"
#include "webhook/json_patch.h"
#include "api/v1alpha1/agent_workload.h"

namespace agentbudget::webhook {

// How the meter sidecar is built: the webhook's flags. A value type.
struct MeterSettings {
  std::string image = "agentbudget/meter:0.1.0";
  std::string image_pull_policy = "IfNotPresent";
  std::string authority_url;  // the operator's budget authority, e.g. https://...:8443
  std::string authority_ca_configmap;  // ConfigMap (key ca.crt) with the authority's CA; ""
  int port = 8787;                     // docs/design.md, "The meter": 127.0.0.1:8787
  std::string cpu_request = "50m";
  std::string memory_request = "32Mi";
  std::string cpu_limit = "500m";
  std::string memory_limit = "128Mi";
  int64_t run_as_user = 65532;
};

// Everything the rules need about one object being created. The server fills it from the
// AdmissionReview and its caches; the rules do no I/O.
struct AdmissionContext {
  std::string namespace_name;
  core::Labels namespace_labels;
  const v1alpha1::Workload* workload = nullptr;  // the governing workload; nullptr: not governed
  // The run this object belongs to, resolved by the server: for a pod owned by a Job, the
  // Job's UID (from ownerReferences); for a bare pod, a fresh id (the request UID).
  std::string run;
  // The parent run when this object is a subagent: from the creating pod (service-account
  // token claims) or the agentbudget.io/parent-run label. "" for a top-level run.
  std::string parent_run;
  // The requesting user, for the agentbudget.io/user label when the object has none.
  std::string username;
};

// True when the namespace opted in (agentbudget.io/inject=enabled).
bool NamespaceOptedIn(const core::Labels& namespace_labels);

// Why a pod is left alone, or "" when the webhook governs it: not opted in, no workload,
// a mirror pod, a hostNetwork pod.
std::string WhyNotGoverned(const nlohmann::json& pod, const AdmissionContext& context);

// The attribution labels and annotations (docs/design.md) stamped on governed objects. Team and
// cost center come from the namespace and override the object's; workflow, environment,
// repo, class, priority and tags from the workload; run and parent run from the context;
// user from the object's own label if set, else the requesting user (sanitised to a
// label value).
struct Attribution {
  nlohmann::json labels = nlohmann::json::object();
  nlohmann::json annotations = nlohmann::json::object();
};
Attribution AttributionFor(const nlohmann::json& object, const AdmissionContext& context,
                           bool include_run);

// A Kubernetes label value made from arbitrary text: characters outside [A-Za-z0-9-_.]
// become '-', at most 63 characters, starting and ending alphanumeric. "" if nothing is left.
std::string SanitizeLabelValue(const std::string& text);

// The JSON Patch that governs a pod on CREATE (docs/webhook.md): the meter as a native
// sidecar (first init container, restartPolicy Always) with its config, the credentials and
// token volumes, provider base URLs (and placeholder keys under key custody) in every agent
// container, attribution labels, the scheduling gate for bare pods, and the
// agentbudget.io/injected record. Returns an empty patch when the pod is not governed or
// already carries the injected record (idempotent re-admission).
// Env rule: a variable the pod author set is kept, except under key custody, where the
// base URLs and API keys are always the meter's (a custody workload must not be bypassed).
nlohmann::json MutatePod(const nlohmann::json& pod, const AdmissionContext& context,
                         const MeterSettings& meter);

// The JSON Patch that governs a Job on CREATE (docs/webhook.md): spec.suspend true, the queue
// annotation, activeDeadlineSeconds capped by perRun.maxRuntime and backoffLimit by
// perRun.maxRetries of the Job's own workload (each set when absent, lowered when larger),
// attribution labels on the Job and on its pod template, and the injected record. Empty
// when not governed or already injected.
nlohmann::json MutateJob(const nlohmann::json& job, const AdmissionContext& context);

// The meter container the webhook injects (exposed for tests and documentation).
nlohmann::json MeterContainer(const AdmissionContext& context, const MeterSettings& meter);

// True for pods owned by a Job (an ownerReference of kind Job, controller true); `uid`
// receives the Job's UID.
bool OwnedByJob(const nlohmann::json& pod, std::string* uid);

}  // namespace agentbudget::webhook
