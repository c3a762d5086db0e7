#pragma once

#include "kube/resource.h"

namespace agentbudget::v1alpha1 {

// The project's custom resources (crds/), as the API server serves them.
inline const kube::GroupVersionResource kAgentBudgets{"agentbudget.io", "v1alpha1", "agentbudgets",
                                                      /*namespaced=*/false};
inline const kube::GroupVersionResource kAgentWorkloads{"agentbudget.io", "v1alpha1",
                                                        "agentworkloads", /*namespaced=*/true};

}  // namespace agentbudget::v1alpha1
