#pragma once

#include "webhook/identities.h"
#include "webhook/key_custody.h"

namespace agentbudget::webhook {

// Whose requests the webhook treats how (its flags; docs/webhook.md, "Identities"). A value
// type; the defaults trust nobody.
struct AccessPolicy {
  // Exempt from the UPDATE rules: the operator, whose queue unsuspends Jobs, removes
  // scheduling gates and writes system annotations (--operator-users).
  IdentityList operator_users;
  // Create the pods of Jobs; a pod a Job controls from anyone else is refused, and theirs
  // take user and parent run from the Job's pod template (--job-controller-users).
  IdentityList job_controller_users;
  // Whose agentbudget.io/user and agentbudget.io/parent-run labels are honoured at creation
  // (--trusted-creators).
  IdentityList trusted_creators;
  // Pod features governed pods may use (--allow-pod-features).
  PodFeatures allowed_features;
};

}  // namespace agentbudget::webhook
