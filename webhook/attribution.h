#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "webhook/admission_context.h"
#include "webhook/system_metadata.h"

namespace agentbudget::webhook {

// Where the user and the parent run of an object being created may come from
// (docs/webhook.md, "Attribution"). A value type.
struct AttributionSource {
  std::string username;  // the requester (userInfo.username)
  // The object is a pod that one of --job-controller-users creates for the Job that
  // controls it: its labels are the Job's pod template's, which the webhook stamped when
  // the Job was created and protects on UPDATE.
  bool job_controller_pod = false;
  bool trusted_creator = false;  // the requester is one of --trusted-creators
  // The run of the pod that made the request, from its bound service-account token (which
  // the creator cannot forge); "" when the requester is no governed pod.
  std::string creating_pod_run;
};

// The agentbudget.io/user and agentbudget.io/parent-run values an object gets. "" leaves the
// label off. A value type.
struct UserAndParent {
  std::string user;
  std::string parent_run;
};

// For a Job controller's pod: both from the object's own labels. Otherwise the user is the
// object's label when the creator is trusted and set one, else the requester's username
// made a label value; the parent run is the creating pod's run, else the object's label
// when the creator is trusted, else none (a label anyone else wrote is dropped).
UserAndParent ResolveUserAndParent(const nlohmann::json& object, const AttributionSource& source);

// The attribution (docs/design.md, "Labels and annotations") stamped on governed objects.
// Labels: workload; team from the namespace; workflow, environment, class and priority from
// the workload; user and parent run from the context; run when `include_run`. Annotations:
// repo and tags from the workload, cost center from the namespace.
SystemMetadata AttributionFor(const AdmissionContext& context, bool include_run);

// A Kubernetes label value made from arbitrary text: characters outside [A-Za-z0-9-_.]
// become '-', at most 63 characters, starting and ending alphanumeric. "" if nothing is left.
std::string SanitizeLabelValue(const std::string& text);

}  // namespace agentbudget::webhook
