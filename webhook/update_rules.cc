#include "webhook/update_rules.h"

#include <optional>
#include <set>
#include <string_view>

#include "api/v1alpha1/labels.h"
#include "core/json_field.h"
#include "webhook/approvals.h"
#include "webhook/mutation.h"
#include "webhook/reserved_names.h"
#include "webhook/rule_violation.h"
#include "webhook/system_metadata.h"

namespace agentbudget::webhook {
namespace {

const std::set<std::string> kApprovalKeys = {v1alpha1::keys::kApprovedBy,
                                             v1alpha1::keys::kApprovedAt};

constexpr const char* kMetadataFix =
    "agentbudget.io/ labels and annotations are agentbudget's (only agentbudget.io/models and "
    "agentbudget.io/outcome are yours); leave them as they are";

// The system-metadata and approval rules on one object's metadata; `where` prefixes what
// changed ("" or "pod template ").
std::optional<RuleViolation> MetadataViolation(const nlohmann::json& old_metadata,
                                               const nlohmann::json& metadata,
                                               const std::string& where,
                                               const std::set<std::string>& ignored) {
  auto change = FirstChange(SystemMetadataOf(old_metadata), SystemMetadataOf(metadata), ignored);
  if (!change) {
    return std::nullopt;
  }
  return RuleViolation{"system-metadata", "it changes " + where + change->Describe(),
                       kMetadataFix};
}

// The system-metadata rule on the object's own metadata, approvals judged apart.
std::optional<RuleViolation> ObjectMetadataViolation(const nlohmann::json& old_object,
                                                     const nlohmann::json& object,
                                                     const UpdateContext& context) {
  if (auto violation = MetadataViolation(core::Member(old_object, {"metadata"}),
                                         core::Member(object, {"metadata"}), "", kApprovalKeys)) {
    return violation;
  }
  return ApprovalViolation(old_object, object, context.username, context.groups,
                           context.workload);
}

bool HasInjectedRecord(const nlohmann::json& object) {
  return !core::Member(object, {"metadata", "annotations", v1alpha1::keys::kInjected}).is_null();
}

// The containers (and init containers) named agentbudget-*, by list and name.
std::map<std::string, nlohmann::json> ReservedContainers(const nlohmann::json& pod) {
  std::map<std::string, nlohmann::json> out;
  for (const char* list : {"initContainers", "containers"}) {
    const nlohmann::json& containers = core::Member(pod, {"spec", list});
    for (size_t i = 0; containers.is_array() && i < containers.size(); ++i) {
      const std::string name = core::StringField(containers[i], "name");
      if (IsReservedName(name)) {
        out[std::string(list) + "/" + name] = containers[i];
      }
    }
  }
  return out;
}

std::set<std::string> EphemeralNames(const nlohmann::json& pod) {
  std::set<std::string> names;
  const nlohmann::json& containers = core::Member(pod, {"spec", "ephemeralContainers"});
  for (size_t i = 0; containers.is_array() && i < containers.size(); ++i) {
    names.insert(core::StringField(containers[i], "name"));
  }
  return names;
}

}  // namespace

AdmissionDecision ValidatePodUpdate(const nlohmann::json& old_pod, const nlohmann::json& pod,
                                    const UpdateContext& context) {
  const std::string subject = SubjectOf("pod", context.namespace_name, pod);
  if (auto violation = ObjectMetadataViolation(old_pod, pod, context)) {
    return DenyByRule(subject, *violation);
  }
  if (HasAdmissionGate(core::Member(old_pod, {"spec"})) &&
      !HasAdmissionGate(core::Member(pod, {"spec"}))) {
    return DenyByRule(subject,
                      {"admission-gate",
                       std::string("it removes the scheduling gate ") +
                           v1alpha1::keys::kSchedulingGate,
                       "the operator removes it when it admits the run; wait for admission"});
  }
  const auto old_meter = ReservedContainers(old_pod);
  const auto meter = ReservedContainers(pod);
  if (old_meter != meter) {
    return DenyByRule(subject, {"meter-immutable",
                                "it changes the agentbudget-* containers (the meter)",
                                "leave the meter as agentbudget injected it"});
  }
  return AdmissionDecision::Allow();
}

AdmissionDecision ValidateJobUpdate(const nlohmann::json& old_job, const nlohmann::json& job,
                                    const UpdateContext& context) {
  const std::string subject = SubjectOf("job", context.namespace_name, job);
  if (auto violation = ObjectMetadataViolation(old_job, job, context)) {
    return DenyByRule(subject, *violation);
  }
  if (auto violation = MetadataViolation(core::Member(old_job, {"spec", "template", "metadata"}),
                                         core::Member(job, {"spec", "template", "metadata"}),
                                         "pod template ", {})) {
    return DenyByRule(subject, *violation);
  }
  const nlohmann::json& was = core::Member(old_job, {"spec", "suspend"});
  const nlohmann::json& now = core::Member(job, {"spec", "suspend"});
  const bool unsuspends = was.is_boolean() && was.get<bool>() &&
                          !(now.is_boolean() && now.get<bool>());
  if (unsuspends && (context.workload != nullptr || HasInjectedRecord(old_job))) {
    return DenyByRule(subject,
                      {"held-job", "it clears spec.suspend of a Job the agentbudget queue holds",
                       "the operator releases it when it admits the run (kubectl get job -o "
                       "jsonpath='{.metadata.annotations.agentbudget\\.io/queue}' says why "
                       "it waits)"});
  }
  return AdmissionDecision::Allow();
}

AdmissionDecision ValidateEphemeralContainers(const nlohmann::json& old_pod,
                                              const nlohmann::json& pod,
                                              const UpdateContext& context) {
  const bool governed = context.workload != nullptr || HasInjectedRecord(old_pod) ||
                        !ReservedContainers(old_pod).empty();
  if (!governed) {
    return AdmissionDecision::Allow();
  }
  const std::string subject = SubjectOf("pod", context.namespace_name, pod);
  const std::set<std::string> existing = EphemeralNames(old_pod);
  const v1alpha1::Workload none;
  const v1alpha1::Workload& workload = context.workload != nullptr ? *context.workload : none;
  const nlohmann::json& containers = core::Member(pod, {"spec", "ephemeralContainers"});
  for (size_t i = 0; containers.is_array() && i < containers.size(); ++i) {
    const nlohmann::json& container = containers[i];
    const std::string name = core::StringField(container, "name");
    if (existing.contains(name)) {
      continue;  // ephemeral containers cannot change once added
    }
    const std::string what = "ephemeral container " + Quoted(name);
    std::optional<RuleViolation> violation;
    if (IsReservedName(name)) {
      violation = RuleViolation{"", "the name of " + what + " is reserved for agentbudget",
                                "rename it"};
    } else if (const std::string target = core::StringField(container, "targetContainerName");
               IsReservedName(target)) {
      violation = RuleViolation{"",
                                what + " targets " + Quoted(target) +
                                    ", whose processes, memory and files hold the meter's keys",
                                "target an agent container instead"};
    } else {
      violation = ContainerViolation(container, what, workload, context.allowed_features);
    }
    if (violation) {
      violation->rule = "ephemeral-container";
      return DenyByRule(subject, *violation);
    }
  }
  return AdmissionDecision::Allow();
}

}  // namespace agentbudget::webhook
