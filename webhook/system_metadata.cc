#include "webhook/system_metadata.h"

#include "api/v1alpha1/labels.h"
#include "core/json_field.h"
#include "webhook/rule_violation.h"

namespace agentbudget::webhook {
namespace {

core::Labels SystemKeysOf(const nlohmann::json& map) {
  core::Labels out;
  if (!map.is_object()) {
    return out;
  }
  for (const auto& [key, value] : map.items()) {
    if (v1alpha1::IsSystemKey(key)) {
      out[key] = value.is_string() ? value.get<std::string>() : value.dump();
    }
  }
  return out;
}

// Removes the system keys of the map at `path` (present value `map`) that `want` lacks.
void RemoveUnwanted(const std::string& path, const nlohmann::json& map, const core::Labels& want,
                    PatchBuilder& patch) {
  if (!map.is_object()) {
    return;
  }
  for (const auto& [key, value] : map.items()) {
    if (v1alpha1::IsSystemKey(key) && !want.contains(key)) {
      patch.Remove(path + "/" + EscapePointerToken(key));
    }
  }
}

std::optional<MetadataChange> FirstChangeOf(const char* field, const core::Labels& from,
                                            const core::Labels& to,
                                            const std::set<std::string>& ignored) {
  std::set<std::string> keys;
  for (const auto& [key, value] : from) {
    keys.insert(key);
  }
  for (const auto& [key, value] : to) {
    keys.insert(key);
  }
  for (const std::string& key : keys) {
    if (ignored.contains(key)) {
      continue;
    }
    auto a = from.find(key);
    auto b = to.find(key);
    std::optional<std::string> was;
    std::optional<std::string> now;
    if (a != from.end()) {
      was = a->second;
    }
    if (b != to.end()) {
      now = b->second;
    }
    if (was != now) {
      return MetadataChange{field, key, std::move(was), std::move(now)};
    }
  }
  return std::nullopt;
}

}  // namespace

SystemMetadata SystemMetadataOf(const nlohmann::json& metadata) {
  return {SystemKeysOf(core::Member(metadata, {"labels"})),
          SystemKeysOf(core::Member(metadata, {"annotations"}))};
}

void PatchSystemMetadata(const std::string& path, const nlohmann::json& metadata,
                         const SystemMetadata& want, PatchBuilder& patch) {
  if (!metadata.is_object()) {
    nlohmann::json created = nlohmann::json::object();
    if (!want.labels.empty()) {
      created["labels"] = want.labels;
    }
    if (!want.annotations.empty()) {
      created["annotations"] = want.annotations;
    }
    patch.Add(path, std::move(created));
    return;
  }
  const std::pair<const char*, const core::Labels*> maps[] = {{"labels", &want.labels},
                                                              {"annotations", &want.annotations}};
  for (const auto& [field, wanted] : maps) {
    const nlohmann::json& current = core::Member(metadata, {field});
    RemoveUnwanted(path + "/" + field, current, *wanted, patch);
    patch.SetMembers(path + "/" + field, current, nlohmann::json(*wanted));
  }
}

std::string MetadataChange::Describe() const {
  const std::string head = field + " " + key;
  if (!from) {
    return head + " added (" + Quoted(to.value_or("")) + ")";
  }
  if (!to) {
    return head + " removed (was " + Quoted(*from) + ")";
  }
  return head + " " + Quoted(*from) + " -> " + Quoted(*to);
}

std::optional<MetadataChange> FirstChange(const SystemMetadata& from, const SystemMetadata& to,
                                          const std::set<std::string>& ignored) {
  if (auto change = FirstChangeOf("label", from.labels, to.labels, ignored)) {
    return change;
  }
  return FirstChangeOf("annotation", from.annotations, to.annotations, ignored);
}

}  // namespace agentbudget::webhook
