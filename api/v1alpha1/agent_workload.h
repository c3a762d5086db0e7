#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "api/v1alpha1/labels.h"
#include "core/label_selector.h"

namespace agentbudget::v1alpha1 {

// Who may approve a run of a workload (spec.approval.approvers). A value type.
struct Approvers {
  std::vector<std::string> users;   // usernames, as the API server authenticates them
  std::vector<std::string> groups;  // group names

  // Nobody can approve.
  bool empty() const { return users.empty() && groups.empty(); }
  // True when `username` is listed, or one of `groups` is.
  bool Includes(const std::string& username, const std::vector<std::string>& groups) const;
};

// Where a workload's meter gets the provider keys (spec.meter.keySource).
enum class KeySource {
  kSecret,     // the workload's credentialsSecretRef, mounted into the meter (if named)
  kAuthority,  // from the budget authority, after it authenticated the meter's bound token
};

// An AgentWorkload's spec, parsed and checked. A value type, immutable once built, so
// safe to share between threads.
struct Workload {
  std::string name;
  std::string namespace_name;
  core::LabelSelector selector;
  std::string workload_class;            // Assistive | AutonomousBounded | AutonomousExternalized
  std::string priority = "Standard";     // ReleaseBlocking | Standard | Deferrable
  std::string workflow;
  std::string repo;
  std::string environment;
  std::map<std::string, std::string> tags;
  std::vector<std::string> allowed_models;  // empty: any model
  std::vector<std::string> fallback_models;
  std::string max_cost;                     // decimal string, "" when unset
  std::optional<int64_t> max_tokens;
  std::optional<int64_t> max_requests;
  std::optional<int64_t> max_identical_requests;
  std::optional<int64_t> max_runtime_seconds;  // perRun.maxRuntime, rounded up
  std::optional<int64_t> max_subagents;
  std::optional<int64_t> max_parallel_subagents;
  std::optional<int64_t> max_retries;       // perRun.maxRetries: caps a Job's backoffLimit
  std::string on_ceiling = "Deny";          // perRun.onCeiling: Deny | Stop
  std::string request_max_cost;             // perRequest.maxCost, "" when unset
  std::optional<int64_t> request_max_tokens;  // perRequest.maxTokens
  std::string request_on_exceed = "Deny";   // perRequest.onExceed: Clamp | Deny
  std::optional<int64_t> max_parallel_runs;
  std::string on_limit = "Queue";           // Queue | Reject
  bool approval_required = false;
  Approvers approvers;                      // spec.approval.approvers
  std::string anthropic_upstream;           // "" : the meter's default
  std::string openai_upstream;
  KeySource key_source = KeySource::kSecret;  // spec.meter.keySource
  std::string credentials_secret;           // "" : no Secret (see key_custody())
  std::string failure_mode = "Open";        // Open | Closed

  // Agent containers never hold provider keys: the meter has them, from the workload's
  // Secret or from the authority.
  bool key_custody() const { return key_source == KeySource::kAuthority || mounts_secret(); }
  // The meter mounts the workload's credentials Secret.
  bool mounts_secret() const {
    return key_source == KeySource::kSecret && !credentials_secret.empty();
  }
};

// Parses an AgentWorkload object (as stored: apiVersion, metadata, spec). Fails with
// kInvalidArgument naming the field for what the CRD schema would not catch or a
// malformed object: missing metadata.name or spec, a bad selector, an unparsable
// maxRuntime, a wrong type, an unknown meter.keySource, keySource Authority together with a
// credentialsSecretRef. Never throws.
Result<Workload> ParseWorkload(const nlohmann::json& object);

// Parses a Go-style duration of the CRD's form ("90s", "1h30m", "1.5h", "250ms") into whole
// seconds, rounding up. Fails with kInvalidArgument for anything else or for values above
// ten years.
Result<int64_t> ParseDurationSeconds(const std::string& text);

// The workload that governs an object with `labels` among the namespace's `workloads`:
// those whose selector matches; among several, the one named by the object's
// agentbudget.io/workload label, else the first by name. nullptr when none matches.
const Workload* SelectWorkload(const core::Labels& labels,
                               const std::vector<Workload>& workloads);

}  // namespace agentbudget::v1alpha1
