#include "webhook/key_custody.h"

#include <cctype>
#include <utility>
#include <vector>

#include "api/v1alpha1/labels.h"
#include "core/json_field.h"
#include "webhook/reserved_names.h"

namespace agentbudget::webhook {
namespace {

constexpr const char* kShareProcessNamespace = "shareProcessNamespace";
constexpr const char* kHostPid = "hostPID";
constexpr const char* kHostNetwork = "hostNetwork";
constexpr const char* kPrivileged = "privileged";

bool IsTrue(const nlohmann::json& value) { return value.is_boolean() && value.get<bool>(); }

// The reference to the workload's Secret a container makes through env or envFrom, or "".
std::string SecretReference(const nlohmann::json& container, const std::string& secret) {
  const nlohmann::json& env = core::Member(container, {"env"});
  for (size_t i = 0; env.is_array() && i < env.size(); ++i) {
    const nlohmann::json& ref = core::Member(env[i], {"valueFrom", "secretKeyRef"});
    if (core::StringField(ref, "name") == secret) {
      return "env " + core::StringField(env[i], "name") + " takes a key of Secret " + secret;
    }
  }
  const nlohmann::json& env_from = core::Member(container, {"envFrom"});
  for (size_t i = 0; env_from.is_array() && i < env_from.size(); ++i) {
    if (core::StringField(core::Member(env_from[i], {"secretRef"}), "name") == secret) {
      return "envFrom takes every key of Secret " + secret;
    }
  }
  return "";
}

// The first volume of `pod_spec` that holds the workload's Secret or an authority token.
std::optional<RuleViolation> VolumeViolation(const nlohmann::json& pod_spec,
                                             const v1alpha1::Workload& workload) {
  const nlohmann::json& volumes = core::Member(pod_spec, {"volumes"});
  for (size_t i = 0; volumes.is_array() && i < volumes.size(); ++i) {
    const nlohmann::json& volume = volumes[i];
    const std::string name = core::StringField(volume, "name");
    if (IsReservedName(name)) {
      continue;  // the reserved-name rule's
    }
    const std::string what = "volume " + Quoted(name);
    if (workload.mounts_secret() &&
        core::StringField(core::Member(volume, {"secret"}), "secretName") ==
            workload.credentials_secret) {
      return RuleViolation{"credentials-secret",
                           what + " holds the provider-key Secret " +
                               workload.credentials_secret + " of AgentWorkload " + workload.name,
                           "only the agentbudget meter may read it; remove the volume"};
    }
    const nlohmann::json& sources = core::Member(volume, {"projected", "sources"});
    for (size_t j = 0; sources.is_array() && j < sources.size(); ++j) {
      if (workload.mounts_secret() &&
          core::StringField(core::Member(sources[j], {"secret"}), "name") ==
              workload.credentials_secret) {
        return RuleViolation{
            "credentials-secret",
            what + " projects the provider-key Secret " + workload.credentials_secret +
                " of AgentWorkload " + workload.name,
            "only the agentbudget meter may read it; remove the source"};
      }
      if (core::StringField(core::Member(sources[j], {"serviceAccountToken"}), "audience") ==
          kTokenAudience) {
        return RuleViolation{
            "credentials-volume",
            what + " projects a service-account token for audience " +
                std::string(kTokenAudience) + ", which speaks to the budget authority as the meter",
            "remove the token source (only the agentbudget meter holds that token)"};
      }
    }
  }
  return std::nullopt;
}

}  // namespace

Result<PodFeatures> PodFeatures::Parse(std::string_view list) {
  PodFeatures out;
  const std::vector<std::pair<const char*, bool*>> known = {
      {kShareProcessNamespace, &out.share_process_namespace},
      {kHostPid, &out.host_pid},
      {kHostNetwork, &out.host_network},
      {kPrivileged, &out.privileged}};
  auto trim = [](std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0) {
      text.remove_prefix(1);
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) {
      text.remove_suffix(1);
    }
    return text;
  };
  if (trim(list).empty()) {
    return out;
  }
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) {
      comma = list.size();
    }
    const std::string_view item = trim(list.substr(start, comma - start));
    start = comma + 1;
    bool found = false;
    for (const auto& [name, flag] : known) {
      if (item == name) {
        *flag = true;
        found = true;
      }
    }
    if (!found) {
      return InvalidArgument("unknown pod feature \"" + std::string(item) +
                             "\" (known: shareProcessNamespace, hostPID, hostNetwork, "
                             "privileged)");
    }
  }
  return out;
}

std::string PodFeatures::ToString() const {
  std::string out;
  for (const auto& [name, on] : {std::pair{kShareProcessNamespace, share_process_namespace},
                                 std::pair{kHostPid, host_pid},
                                 std::pair{kHostNetwork, host_network},
                                 std::pair{kPrivileged, privileged}}) {
    if (on) {
      out += (out.empty() ? "" : ",") + std::string(name);
    }
  }
  return out;
}

std::optional<RuleViolation> ContainerViolation(const nlohmann::json& container,
                                                const std::string& what,
                                                const v1alpha1::Workload& workload,
                                                const PodFeatures& allowed) {
  const nlohmann::json& mounts = core::Member(container, {"volumeMounts"});
  for (size_t i = 0; mounts.is_array() && i < mounts.size(); ++i) {
    const std::string volume = core::StringField(mounts[i], "name");
    if (IsReservedName(volume)) {
      return RuleViolation{"credentials-volume",
                           what + " mounts volume " + Quoted(volume) +
                               ", which belongs to the agentbudget meter",
                           "remove the volumeMount (agent containers never see the meter's "
                           "credentials, token or spool)"};
    }
  }
  if (workload.mounts_secret()) {
    if (std::string ref = SecretReference(container, workload.credentials_secret);
        !ref.empty()) {
      return RuleViolation{"credentials-secret",
                           what + ": " + ref + ", the provider keys of AgentWorkload " +
                               workload.name,
                           "only the agentbudget meter may read that Secret; remove the "
                           "reference (agents call providers through the meter)"};
    }
  }
  if (!allowed.privileged && IsTrue(core::Member(container, {"securityContext", "privileged"}))) {
    return RuleViolation{"privileged", what + " is privileged, so it could read the meter's keys",
                         "drop securityContext.privileged, or ask the cluster admin to allow the "
                         "pod feature privileged"};
  }
  return std::nullopt;
}

std::optional<RuleViolation> KeyCustodyViolation(const nlohmann::json& pod_spec,
                                                 const v1alpha1::Workload& workload,
                                                 const PodFeatures& allowed) {
  const struct {
    const char* field;
    bool allowed;
    const char* rule;
    const char* why;
  } pod_level[] = {
      {kShareProcessNamespace, allowed.share_process_namespace, "share-process-namespace",
       "agent containers could read the meter's memory and files"},
      {kHostPid, allowed.host_pid, "host-pid",
       "agent containers could read every process of the node, the meter's included"},
      {kHostNetwork, allowed.host_network, "host-network",
       "the meter's loopback port would be the node's, open to other pods"},
  };
  for (const auto& feature : pod_level) {
    if (!feature.allowed && IsTrue(core::Member(pod_spec, {feature.field}))) {
      return RuleViolation{feature.rule,
                           std::string("spec.") + feature.field + " is set: " + feature.why,
                           std::string("remove spec.") + feature.field +
                               ", or ask the cluster admin to allow the pod feature " +
                               feature.field};
    }
  }
  for (const char* list : {"initContainers", "containers"}) {
    const nlohmann::json& containers = core::Member(pod_spec, {list});
    for (size_t i = 0; containers.is_array() && i < containers.size(); ++i) {
      const std::string name = core::StringField(containers[i], "name");
      if (IsReservedName(name)) {
        continue;  // the meter, or the reserved-name rule's
      }
      const std::string what =
          std::string(list == std::string_view("containers") ? "container " : "init container ") +
          Quoted(name);
      if (auto violation = ContainerViolation(containers[i], what, workload, allowed)) {
        return violation;
      }
    }
  }
  return VolumeViolation(pod_spec, workload);
}

}  // namespace agentbudget::webhook
