#include "webhook/approvals.h"

#include "api/v1alpha1/labels.h"
#include "core/json_field.h"
#include "core/time_format.h"
#include "webhook/json_patch.h"

namespace agentbudget::webhook {
namespace {

// The annotation's value, or nullopt when absent (a non-string counts as its JSON text).
std::optional<std::string> Annotation(const nlohmann::json& object, const char* key) {
  const nlohmann::json& value = core::Member(object, {"metadata", "annotations", key});
  if (value.is_null()) {
    return std::nullopt;
  }
  return value.is_string() ? value.get<std::string>() : value.dump();
}

}  // namespace

bool IsApproval(const nlohmann::json& old_object, const nlohmann::json& object) {
  const auto now = Annotation(object, v1alpha1::keys::kApprovedBy);
  return now && now != Annotation(old_object, v1alpha1::keys::kApprovedBy);
}

nlohmann::json ApprovalPatch(const nlohmann::json& old_object, const nlohmann::json& object,
                             const std::string& username, core::SysSeconds now) {
  if (!IsApproval(old_object, object)) {
    return nlohmann::json::array();
  }
  PatchBuilder patch;
  // approved-by exists, so the annotations are an object.
  patch.SetMembers("/metadata/annotations", object["metadata"]["annotations"],
                   {{v1alpha1::keys::kApprovedBy, username},
                    {v1alpha1::keys::kApprovedAt, core::FormatRfc3339(now)}});
  return patch.ops();
}

std::optional<RuleViolation> ApprovalViolation(const nlohmann::json& old_object,
                                               const nlohmann::json& object,
                                               const std::string& username,
                                               const std::vector<std::string>& groups,
                                               const v1alpha1::Workload* workload) {
  const auto by_was = Annotation(old_object, v1alpha1::keys::kApprovedBy);
  const auto by = Annotation(object, v1alpha1::keys::kApprovedBy);
  const auto at_was = Annotation(old_object, v1alpha1::keys::kApprovedAt);
  const auto at = Annotation(object, v1alpha1::keys::kApprovedAt);
  if (by == by_was && at == at_was) {
    return std::nullopt;
  }
  const std::string annotate = "approve with kubectl annotate --overwrite <object> " +
                               std::string(v1alpha1::keys::kApprovedBy) + "=yes";
  if (!by) {
    return RuleViolation{"system-metadata",
                         std::string("it removes the approval (") + v1alpha1::keys::kApprovedBy +
                             ", " + v1alpha1::keys::kApprovedAt + ")",
                         "an approval stays with its run; delete the run to stop it"};
  }
  if (by == by_was) {
    return RuleViolation{"system-metadata",
                         std::string("it changes ") + v1alpha1::keys::kApprovedAt +
                             " without approving",
                         "agentbudget records the time of an approval; " + annotate};
  }
  if (workload == nullptr) {
    return RuleViolation{"approvers",
                         "no AgentWorkload governs it, so nobody can approve it", annotate +
                             " once an AgentWorkload with spec.approval.approvers governs it"};
  }
  if (workload->approvers.empty()) {
    return RuleViolation{"approvers",
                         "AgentWorkload " + workload->name +
                             " lists no spec.approval.approvers, so nobody can approve its runs",
                         "ask its owner to name approvers"};
  }
  if (!workload->approvers.Includes(username, groups)) {
    return RuleViolation{"approvers",
                         Quoted(username) + " is not an approver of AgentWorkload " +
                             workload->name,
                         "ask one of its spec.approval.approvers to approve"};
  }
  if (*by != username) {
    return RuleViolation{"approvers",
                         std::string(v1alpha1::keys::kApprovedBy) + " is " + Quoted(*by) +
                             ", not the approver's username " + Quoted(username),
                         annotate + " (agentbudget records who approved)"};
  }
  if (!at || !core::ParseRfc3339(*at).ok()) {
    return RuleViolation{"approvers",
                         std::string(v1alpha1::keys::kApprovedAt) +
                             " is missing or not an RFC 3339 time",
                         annotate + " (agentbudget records when)"};
  }
  return std::nullopt;
}

}  // namespace agentbudget::webhook
