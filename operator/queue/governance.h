#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "api/v1alpha1/agent_workload.h"

namespace agentbudget::queue {

// Which objects the queue governs, read from the objects themselves rather than from what
// the webhook stamped, so that the backstop also covers what the webhook never saw. Pure.

// Whether Namespace `ns` opted in to governance: label agentbudget.io/inject=enabled.
bool OptedIn(const nlohmann::json& ns);

// The AgentWorkload among `workloads` (its namespace's, parsed) that governs `object` (a
// Job or Pod of that namespace): the one its agentbudget.io/workload label names — the
// webhook stamps the workload it chose, and a governed object stays governed when its other
// labels change — else the one that selects it (v1alpha1::SelectWorkload). nullptr when
// none does. The result points into `workloads`.
const v1alpha1::Workload* GoverningWorkload(const nlohmann::json& object,
                                            const std::vector<v1alpha1::Workload>& workloads);

}  // namespace agentbudget::queue
