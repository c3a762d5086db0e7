#include "api/v1alpha1/agent_workload.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <utility>

#include "core/json_field.h"

namespace agentbudget::v1alpha1 {
namespace {

constexpr int64_t kMaxDurationSeconds = int64_t{10} * 365 * 24 * 3600;


// Reads an optional string field into `out`.
Status ReadString(const nlohmann::json& parent, const char* key, const std::string& where,
                  std::string& out) {
  const nlohmann::json& value = core::Member(parent, {key});
  if (value.is_null()) {
    return OkStatus();
  }
  if (!value.is_string()) {
    return InvalidArgument(where + "." + key + " must be a string");
  }
  out = value.get<std::string>();
  return OkStatus();
}

Status ReadInt(const nlohmann::json& parent, const char* key, const std::string& where,
               std::optional<int64_t>& out) {
  const nlohmann::json& value = core::Member(parent, {key});
  if (value.is_null()) {
    return OkStatus();
  }
  if (!value.is_number_integer()) {
    return InvalidArgument(where + "." + key + " must be an integer");
  }
  const int64_t n = value.get<int64_t>();
  if (n < 0) {
    return InvalidArgument(where + "." + key + " must not be negative");
  }
  out = n;
  return OkStatus();
}

Status ReadStringList(const nlohmann::json& parent, const char* key, const std::string& where,
                      std::vector<std::string>& out) {
  const nlohmann::json& value = core::Member(parent, {key});
  if (value.is_null()) {
    return OkStatus();
  }
  if (!value.is_array()) {
    return InvalidArgument(where + "." + key + " must be a list of strings");
  }
  for (const nlohmann::json& item : value) {
    if (!item.is_string() || item.get<std::string>().empty()) {
      return InvalidArgument(where + "." + key + " must hold non-empty strings");
    }
    out.push_back(item.get<std::string>());
  }
  return OkStatus();
}

}  // namespace

Result<int64_t> ParseDurationSeconds(const std::string& text) {
  if (text.empty()) {
    return InvalidArgument("duration is empty");
  }
  double total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) != 0)) {
      ++i;
    }
    if (i < text.size() && text[i] == '.') {
      ++i;
      while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) != 0)) {
        ++i;
      }
    }
    if (i == start || (i - start == 1 && text[start] == '.') || i - start > 15) {
      return InvalidArgument("duration \"" + text + "\" is not of the form 1h30m");
    }
    const double number = std::stod(text.substr(start, i - start));
    double unit_ms = 0;
    if (text.compare(i, 2, "ms") == 0) {
      unit_ms = 1;
      i += 2;
    } else if (i < text.size() && text[i] == 's') {
      unit_ms = 1000;
      ++i;
    } else if (i < text.size() && text[i] == 'm') {
      unit_ms = 60'000;
      ++i;
    } else if (i < text.size() && text[i] == 'h') {
      unit_ms = 3'600'000;
      ++i;
    } else {
      return InvalidArgument("duration \"" + text + "\" needs a unit (ms, s, m, h)");
    }
    total_ms += number * unit_ms;
    if (total_ms > static_cast<double>(kMaxDurationSeconds) * 1000) {
      return InvalidArgument("duration \"" + text + "\" is longer than ten years");
    }
  }
  return static_cast<int64_t>(std::ceil(total_ms / 1000));
}

Result<Workload> ParseWorkload(const nlohmann::json& object) {
  if (!object.is_object()) {
    return InvalidArgument("AgentWorkload is not an object");
  }
  Workload w;
  const nlohmann::json& metadata = core::Member(object, {"metadata"});
  if (Status s = ReadString(metadata, "name", "metadata", w.name); !s.ok()) {
    return std::move(s).error();
  }
  if (w.name.empty()) {
    return InvalidArgument("metadata.name is missing");
  }
  if (Status s = ReadString(metadata, "namespace", "metadata", w.namespace_name); !s.ok()) {
    return std::move(s).error();
  }
  const nlohmann::json& spec = core::Member(object, {"spec"});
  if (!spec.is_object()) {
    return InvalidArgument("spec is missing or not an object");
  }
  auto selector = core::LabelSelector::FromJson(core::Member(spec, {"selector"}));
  if (!selector.ok()) {
    return InvalidArgument("spec." + selector.error().message);
  }
  if (selector->empty()) {
    return InvalidArgument("spec.selector must not be empty (it would govern every pod)");
  }
  w.selector = std::move(selector).value();
  std::vector<std::pair<const char*, std::string*>> strings = {
      {"class", &w.workload_class}, {"priority", &w.priority}, {"onLimit", &w.on_limit}};
  for (auto& [key, out] : strings) {
    if (Status s = ReadString(spec, key, "spec", *out); !s.ok()) {
      return std::move(s).error();
    }
  }
  const nlohmann::json& attribution = core::Member(spec, {"attribution"});
  for (auto [key, out] : std::vector<std::pair<const char*, std::string*>>{
           {"workflow", &w.workflow}, {"repo", &w.repo}, {"environment", &w.environment}}) {
    if (Status s = ReadString(attribution, key, "spec.attribution", *out); !s.ok()) {
      return std::move(s).error();
    }
  }
  if (const nlohmann::json& tags = core::Member(attribution, {"tags"}); !tags.is_null()) {
    if (!tags.is_object()) {
      return InvalidArgument("spec.attribution.tags must be a map of strings");
    }
    for (const auto& [key, value] : tags.items()) {
      if (!value.is_string()) {
        return InvalidArgument("spec.attribution.tags." + key + " must be a string");
      }
      w.tags[key] = value.get<std::string>();
    }
  }
  const nlohmann::json& models = core::Member(spec, {"models"});
  if (Status s = ReadStringList(models, "allowed", "spec.models", w.allowed_models); !s.ok()) {
    return std::move(s).error();
  }
  if (Status s = ReadStringList(models, "fallback", "spec.models", w.fallback_models); !s.ok()) {
    return std::move(s).error();
  }
  const nlohmann::json& per_run = core::Member(spec, {"perRun"});
  for (auto [key, out] : std::vector<std::pair<const char*, std::string*>>{
           {"maxCost", &w.max_cost}, {"onCeiling", &w.on_ceiling}}) {
    if (Status s = ReadString(per_run, key, "spec.perRun", *out); !s.ok()) {
      return std::move(s).error();
    }
  }
  for (auto [key, out] : std::vector<std::pair<const char*, std::optional<int64_t>*>>{
           {"maxTokens", &w.max_tokens},
           {"maxRequests", &w.max_requests},
           {"maxIdenticalRequests", &w.max_identical_requests},
           {"maxSubagents", &w.max_subagents},
           {"maxParallelSubagents", &w.max_parallel_subagents},
           {"maxRetries", &w.max_retries}}) {
    if (Status s = ReadInt(per_run, key, "spec.perRun", *out); !s.ok()) {
      return std::move(s).error();
    }
  }
  const nlohmann::json& per_request = core::Member(spec, {"perRequest"});
  for (auto [key, out] : std::vector<std::pair<const char*, std::string*>>{
           {"maxCost", &w.request_max_cost}, {"onExceed", &w.request_on_exceed}}) {
    if (Status s = ReadString(per_request, key, "spec.perRequest", *out); !s.ok()) {
      return std::move(s).error();
    }
  }
  if (Status s = ReadInt(per_request, "maxTokens", "spec.perRequest", w.request_max_tokens);
      !s.ok()) {
    return std::move(s).error();
  }
  std::string runtime;
  if (Status s = ReadString(per_run, "maxRuntime", "spec.perRun", runtime); !s.ok()) {
    return std::move(s).error();
  }
  if (!runtime.empty()) {
    auto seconds = ParseDurationSeconds(runtime);
    if (!seconds.ok()) {
      return InvalidArgument("spec.perRun.maxRuntime: " + seconds.error().message);
    }
    if (*seconds <= 0) {
      return InvalidArgument("spec.perRun.maxRuntime must be positive");
    }
    w.max_runtime_seconds = *seconds;
  }
  if (Status s = ReadInt(spec, "maxParallelRuns", "spec", w.max_parallel_runs); !s.ok()) {
    return std::move(s).error();
  }
  if (const nlohmann::json& approval = core::Member(spec, {"approval"}); !approval.is_null()) {
    const nlohmann::json& required = core::Member(approval, {"required"});
    if (!required.is_null() && !required.is_boolean()) {
      return InvalidArgument("spec.approval.required must be a boolean");
    }
    w.approval_required = required.is_boolean() && required.get<bool>();
    const nlohmann::json& approvers = core::Member(approval, {"approvers"});
    if (!approvers.is_null() && !approvers.is_object()) {
      return InvalidArgument("spec.approval.approvers must be an object with users and groups");
    }
    const std::string where = "spec.approval.approvers";
    if (Status s = ReadStringList(approvers, "users", where, w.approvers.users); !s.ok()) {
      return std::move(s).error();
    }
    if (Status s = ReadStringList(approvers, "groups", where, w.approvers.groups); !s.ok()) {
      return std::move(s).error();
    }
  }
  const nlohmann::json& meter = core::Member(spec, {"meter"});
  const nlohmann::json& upstreams = core::Member(meter, {"upstreams"});
  for (auto [key, out] : std::vector<std::pair<const char*, std::string*>>{
           {"anthropic", &w.anthropic_upstream}, {"openai", &w.openai_upstream}}) {
    if (Status s = ReadString(upstreams, key, "spec.meter.upstreams", *out); !s.ok()) {
      return std::move(s).error();
    }
  }
  if (const nlohmann::json& ref = core::Member(meter, {"credentialsSecretRef"}); !ref.is_null()) {
    if (Status s = ReadString(ref, "name", "spec.meter.credentialsSecretRef", w.credentials_secret);
        !s.ok()) {
      return std::move(s).error();
    }
  }
  std::string key_source;
  if (Status s = ReadString(meter, "keySource", "spec.meter", key_source); !s.ok()) {
    return std::move(s).error();
  }
  if (key_source == "Authority") {
    w.key_source = KeySource::kAuthority;
  } else if (!key_source.empty() && key_source != "Secret") {
    return InvalidArgument("spec.meter.keySource must be Secret or Authority, got \"" +
                           key_source + "\"");
  }
  if (w.key_source == KeySource::kAuthority && !w.credentials_secret.empty()) {
    return InvalidArgument(
        "spec.meter.credentialsSecretRef must not be set with keySource Authority (the "
        "authority hands the meter its keys; no Secret is mounted)");
  }
  if (Status s = ReadString(meter, "failureMode", "spec.meter", w.failure_mode); !s.ok()) {
    return std::move(s).error();
  }
  return w;
}

bool Approvers::Includes(const std::string& username,
                         const std::vector<std::string>& member_of) const {
  if (std::find(users.begin(), users.end(), username) != users.end()) {
    return true;
  }
  return std::any_of(member_of.begin(), member_of.end(), [this](const std::string& group) {
    return std::find(groups.begin(), groups.end(), group) != groups.end();
  });
}

const Workload* SelectWorkload(const core::Labels& labels,
                               const std::vector<Workload>& workloads) {
  const Workload* best = nullptr;
  auto named = labels.find(keys::kWorkload);
  for (const Workload& w : workloads) {
    if (!w.selector.Matches(labels)) {
      continue;
    }
    if (named != labels.end() && named->second == w.name) {
      return &w;
    }
    if (best == nullptr || w.name < best->name) {
      best = &w;
    }
  }
  return best;
}

}  // namespace agentbudget::v1alpha1
