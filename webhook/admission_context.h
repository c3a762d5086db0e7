#pragma once

#include <string>

#include "api/v1alpha1/agent_workload.h"
#include "core/label_selector.h"
#include "webhook/key_custody.h"

namespace agentbudget::webhook {

// Everything the CREATE rules need about one object being created. The handler fills it
// from the AdmissionReview, its caches and its flags; the rules do no I/O. A value type.
struct AdmissionContext {
  std::string namespace_name;
  core::Labels namespace_labels;
  const v1alpha1::Workload* workload = nullptr;  // the governing workload; nullptr: not governed
  // The run this object belongs to, resolved by the handler: for a pod owned by a Job, the
  // Job's UID (from ownerReferences); for a bare pod, a fresh id (the request UID).
  std::string run;
  // The agentbudget.io/user and agentbudget.io/parent-run values (ResolveUserAndParent);
  // "" leaves the label off.
  std::string user;
  std::string parent_run;
  // The requester is one of --job-controller-users: only they create pods a Job controls.
  bool job_controller = false;
  // What a governed pod may use beyond the defaults (--allow-pod-features).
  PodFeatures allowed_features;
};

// True when the namespace opted in (agentbudget.io/inject=enabled).
bool NamespaceOptedIn(const core::Labels& namespace_labels);

}  // namespace agentbudget::webhook
