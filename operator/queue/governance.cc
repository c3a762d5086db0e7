#include "operator/queue/governance.h"

#include "core/json_field.h"

namespace agentbudget::queue {

using nlohmann::json;

bool OptedIn(const json& ns) {
  const core::Labels labels = v1alpha1::LabelsOf(ns);
  const auto inject = labels.find(v1alpha1::keys::kInject);
  return inject != labels.end() && inject->second == "enabled";
}

const v1alpha1::Workload* GoverningWorkload(const json& object,
                                            const std::vector<v1alpha1::Workload>& workloads) {
  const core::Labels labels = v1alpha1::LabelsOf(object);
  if (const auto named = labels.find(v1alpha1::keys::kWorkload); named != labels.end()) {
    for (const v1alpha1::Workload& workload : workloads) {
      if (workload.name == named->second) {
        return &workload;
      }
    }
  }
  return v1alpha1::SelectWorkload(labels, workloads);
}

}  // namespace agentbudget::queue
