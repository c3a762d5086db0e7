#include "operator/queue/governance.h"

#include <algorithm>

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

bool ListsApprovers(const json& object) {
  const json& approvers = core::Member(object, {"spec", "approval", "approvers"});
  for (const char* field : {"users", "groups"}) {
    const json& names = core::Member(approvers, {field});
    if (names.is_array() && std::any_of(names.begin(), names.end(), [](const json& name) {
          return name.is_string() && !name.get_ref<const std::string&>().empty();
        })) {
      return true;
    }
  }
  return false;
}

}  // namespace agentbudget::queue
