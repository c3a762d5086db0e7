#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/v1alpha1/agent_workload.h"
#include "core/time_zone.h"
#include "webhook/rule_violation.h"

namespace agentbudget::webhook {

// Approvals of runs (docs/webhook.md, "Approvals"). An approver approves a Job or a bare Pod
// by setting the annotation agentbudget.io/approved-by to any value; the mutating webhook
// rewrites it to the approver's username and adds agentbudget.io/approved-at, the time it
// saw the approval; the validating webhook refuses it from anyone but the workload's
// approvers. The queue honours a run only with both annotations.

// True when `object` adds agentbudget.io/approved-by or changes its value from
// `old_object`'s: the update is an approval.
bool IsApproval(const nlohmann::json& old_object, const nlohmann::json& object);

// The mutating webhook's JSON Patch for an approval on UPDATE: approved-by := `username`,
// approved-at := `now` (RFC 3339, UTC). Empty when the update is no approval.
nlohmann::json ApprovalPatch(const nlohmann::json& old_object, const nlohmann::json& object,
                             const std::string& username, core::SysSeconds now);

// What an update by `username` (member of `groups`) does to the approval annotations, judged
// against `workload`, the object's governing workload (nullptr: unknown). nullopt when
// approved-by and approved-at are unchanged, or the update is an approval by one of the
// workload's approvers written as the mutating webhook writes it (approved-by is the
// approver's username, approved-at an RFC 3339 time). Otherwise rule approvers (no or
// another approver, another name, a missing or malformed approved-at) or system-metadata
// (approved-at changed alone, the approval removed).
std::optional<RuleViolation> ApprovalViolation(const nlohmann::json& old_object,
                                               const nlohmann::json& object,
                                               const std::string& username,
                                               const std::vector<std::string>& groups,
                                               const v1alpha1::Workload* workload);

}  // namespace agentbudget::webhook
