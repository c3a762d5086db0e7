#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "core/json_field.h"
#include "core/label_selector.h"

namespace agentbudget::webhook {

// The label and annotation names (docs/design.md, "Labels and annotations"): contracts.
namespace keys {
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
inline constexpr const char* kSchedulingGate = "agentbudget.io/admission";
inline constexpr const char* kMeterContainer = "agentbudget-meter";
}  // namespace keys

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
  std::optional<int64_t> max_parallel_runs;
  std::string on_limit = "Queue";           // Queue | Reject
  bool approval_required = false;
  std::string anthropic_upstream;           // "" : the meter's default
  std::string openai_upstream;
  std::string credentials_secret;           // "" : no key custody
  std::string failure_mode = "Open";        // Open | Closed

  bool key_custody() const { return !credentials_secret.empty(); }
};

// Parses an AgentWorkload object (as stored: apiVersion, metadata, spec). Fails with
// kInvalidArgument naming the field for what the CRD schema would not catch or a
// malformed object: missing metadata.name or spec, a bad selector, an unparsable
// maxRuntime, a wrong type. Never throws.
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

using core::StringField;

// The object's metadata.labels (or .annotations) as a flat map; non-string values skipped.
core::Labels LabelsOf(const nlohmann::json& object, const char* field = "labels");

}  // namespace agentbudget::webhook
