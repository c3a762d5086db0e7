#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "core/label_selector.h"

namespace agentbudget::v1alpha1 {

// The label and annotation names (docs/design.md, "Labels and annotations"): contracts
// between the webhook, the operator and the meter.
namespace keys {
// Every key below that starts with this prefix is system metadata (IsSystemKey), except
// kModels and kOutcome, which tenants set.
inline constexpr const char* kPrefix = "agentbudget.io/";
inline constexpr const char* kInject = "agentbudget.io/inject";
inline constexpr const char* kTeam = "agentbudget.io/team";
inline constexpr const char* kCostCenter = "agentbudget.io/cost-center";
inline constexpr const char* kWorkload = "agentbudget.io/workload";
inline constexpr const char* kWorkflow = "agentbudget.io/workflow";
inline constexpr const char* kEnvironment = "agentbudget.io/environment";
inline constexpr const char* kUser = "agentbudget.io/user";
inline constexpr const char* kRun = "agentbudget.io/run";
inline constexpr const char* kParentRun = "agentbudget.io/parent-run";
inline constexpr const char* kClass = "agentbudget.io/class";
inline constexpr const char* kPriority = "agentbudget.io/priority";
inline constexpr const char* kRepo = "agentbudget.io/repo";
inline constexpr const char* kTags = "agentbudget.io/tags";
inline constexpr const char* kInjected = "agentbudget.io/injected";
inline constexpr const char* kQueue = "agentbudget.io/queue";
inline constexpr const char* kModels = "agentbudget.io/models";
inline constexpr const char* kOutcome = "agentbudget.io/outcome";
// An approval of a run (docs/webhook.md, "Approvals"): set by an approver, rewritten by the
// webhook to the approver's username, with the time it saw the approval (RFC 3339, UTC).
inline constexpr const char* kApprovedBy = "agentbudget.io/approved-by";
inline constexpr const char* kApprovedAt = "agentbudget.io/approved-at";
inline constexpr const char* kSchedulingGate = "agentbudget.io/admission";
inline constexpr const char* kMeterContainer = "agentbudget-meter";
}  // namespace keys

// True for the label and annotation keys only agentbudget may set on Pods, Jobs and Job pod
// templates: every key under "agentbudget.io/" except the tenant's agentbudget.io/models and
// agentbudget.io/outcome annotations.
bool IsSystemKey(std::string_view key);

// The object's metadata.labels (or .annotations) as a flat map; non-string values skipped.
core::Labels LabelsOf(const nlohmann::json& object, const char* field = "labels");

}  // namespace agentbudget::v1alpha1
