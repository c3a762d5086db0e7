#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "api/v1alpha1/agent_workload.h"
#include "common/result.h"
#include "webhook/rule_violation.h"

namespace agentbudget::webhook {

// Pod features that reach around the meter, which a governed pod may use only when the admin
// allows them (--allow-pod-features; docs/webhook.md, "Key custody"). A value type; all off
// by default.
struct PodFeatures {
  bool share_process_namespace = false;  // agents could read the meter's memory and files
  bool host_pid = false;                 // the same for every process on the node
  bool host_network = false;             // the meter's loopback port is the node's
  bool privileged = false;               // a privileged container can read anything

  // Parses "shareProcessNamespace,hostPID,hostNetwork,privileged" (any subset, in any
  // order; "" is none). Fails with kInvalidArgument naming an unknown feature.
  static Result<PodFeatures> Parse(std::string_view list);
  // The list as Parse reads it.
  std::string ToString() const;
};

// The first way a governed pod's spec (`pod_spec`, also a Job's pod template spec) reaches
// around key custody, or nullopt:
//   share-process-namespace, host-pid, host-network: the pod-level settings, unless allowed;
//   then per container and init container (every one but the meter): ContainerViolation;
//   credentials-secret: a volume of the workload's credentials Secret (secret or projected);
//   credentials-volume: a projected service-account token for the authority's audience.
// Containers named agentbudget-* are the reserved-name rule's, not checked here.
std::optional<RuleViolation> KeyCustodyViolation(const nlohmann::json& pod_spec,
                                                 const v1alpha1::Workload& workload,
                                                 const PodFeatures& allowed);

// The first way one container of a governed pod (`what`: "container agent",
// "ephemeral container debug") reaches around key custody, or nullopt:
//   credentials-volume: a volumeMount of an agentbudget-* volume (the meter's credentials,
//     token or spool);
//   credentials-secret: env valueFrom.secretKeyRef or envFrom secretRef naming the
//     workload's credentials Secret;
//   privileged: securityContext.privileged, unless allowed.
std::optional<RuleViolation> ContainerViolation(const nlohmann::json& container,
                                                const std::string& what,
                                                const v1alpha1::Workload& workload,
                                                const PodFeatures& allowed);

}  // namespace agentbudget::webhook
