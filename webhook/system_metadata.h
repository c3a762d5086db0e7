#pragma once

#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "core/label_selector.h"
#include "webhook/json_patch.h"

namespace agentbudget::webhook {

// The system labels and annotations (v1alpha1::IsSystemKey: every agentbudget.io/* key but
// the tenant's models and outcome annotations) of one metadata object: of a Pod, a Job or a
// Job's pod template. A value type.
struct SystemMetadata {
  core::Labels labels;
  core::Labels annotations;

  bool operator==(const SystemMetadata&) const = default;
};

// The system keys of `metadata` (an object's or a template's metadata; anything that is not
// a JSON object has none). A value that is not a string counts as its JSON text, so that it
// differs from every string.
SystemMetadata SystemMetadataOf(const nlohmann::json& metadata);

// Adds to `patch` the operations that make the system keys of the metadata object at
// `path` (an escaped JSON Pointer such as "/metadata" or "/spec/template/metadata"), whose
// present value is `metadata` (null when absent), exactly `want`: every other system key is
// removed, these are added or replaced. Other keys are left alone.
void PatchSystemMetadata(const std::string& path, const nlohmann::json& metadata,
                         const SystemMetadata& want, PatchBuilder& patch);

// One key that differs between two SystemMetadata, `from` and `to`. A value type.
struct MetadataChange {
  std::string field;  // "label" or "annotation"
  std::string key;
  std::optional<std::string> from;  // absent: the key is added
  std::optional<std::string> to;    // absent: the key is removed

  // "label agentbudget.io/team \"a\" -> \"b\"", "annotation agentbudget.io/x added (\"v\")",
  // "label agentbudget.io/user removed (was \"u\")".
  std::string Describe() const;
};

// The first key (labels first, then annotations, each in key order) whose value differs
// between `from` and `to`, leaving out the `ignored` keys; nullopt when none does.
std::optional<MetadataChange> FirstChange(const SystemMetadata& from, const SystemMetadata& to,
                                          const std::set<std::string>& ignored = {});

}  // namespace agentbudget::webhook
