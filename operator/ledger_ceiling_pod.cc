#include "operator/ledger_ceiling_pod.h"

#include "common/log.h"
#include "core/time_format.h"

namespace agentbudget::op {

LedgerCeilingPod::LedgerCeilingPod(kube::Client& client, kube::EventRecorder& recorder,
                                   std::string namespace_name, std::string pod,
                                   const Clock& clock)
    : client_(client),
      recorder_(recorder),
      namespace_(std::move(namespace_name)),
      pod_(std::move(pod)),
      clock_(clock) {}

void LedgerCeilingPod::Event(kube::EventSeverity severity, const std::string& reason,
                             const std::string& message) {
  const nlohmann::json subject = {{"apiVersion", "v1"},
                                  {"kind", "Pod"},
                                  {"metadata", {{"name", pod_}, {"namespace", namespace_}}}};
  if (Status recorded = recorder_.Record(subject, severity, reason, message); !recorded.ok()) {
    log::Warn("cannot record an Event", {{"reason", reason}, {"error", recorded.error().ToString()}});
  }
}

bool LedgerCeilingPod::Condition(bool near, const std::string& reason,
                                 const std::string& message) {
  const nlohmann::json condition = {
      {"type", kCondition},
      {"status", near ? "True" : "False"},
      {"reason", reason},
      {"message", message},
      {"lastTransitionTime",
       core::FormatRfc3339(std::chrono::floor<std::chrono::seconds>(clock_.Now()))}};
  kube::PatchOptions options;
  options.subresource = "status";
  auto patched = client_.Patch(kube::resources::kPods, namespace_, pod_,
                               kube::PatchType::kStrategicMerge,
                               {{"status", {{"conditions", nlohmann::json::array({condition})}}}},
                               options);
  if (!patched.ok()) {
    log::Warn("cannot set the ledger's condition on the operator's pod",
              {{"pod", pod_}, {"error", patched.error().ToString()}});
    return false;
  }
  return true;
}

}  // namespace agentbudget::op
