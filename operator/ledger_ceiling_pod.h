#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "kube/client.h"
#include "kube/event_recorder.h"
#include "operator/ledger_ceiling.h"

namespace agentbudget::op {

// LedgerCeiling's reports about the operator's pod `pod` (namespace and name): Events
// through `recorder`, and the condition LedgerCeilingReports::kCondition in the pod's
// status.conditions, written with a strategic merge patch of its status subresource (the
// kubelet keeps condition types it does not own). Failures are logged. `client`,
// `recorder` and `clock` must outlive this. Thread-compatible.
class LedgerCeilingPod final : public LedgerCeilingReports {
 public:
  LedgerCeilingPod(kube::Client& client, kube::EventRecorder& recorder, std::string namespace_name,
                   std::string pod, const Clock& clock);

  void Event(kube::EventSeverity severity, const std::string& reason,
             const std::string& message) override;
  bool Condition(bool near, const std::string& reason, const std::string& message) override;

 private:
  kube::Client& client_;
  kube::EventRecorder& recorder_;
  const std::string namespace_;
  const std::string pod_;
  const Clock& clock_;
};

}  // namespace agentbudget::op
