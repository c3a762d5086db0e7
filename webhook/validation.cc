#include "webhook/validation.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

#include "core/money.h"
#include "core/time_zone.h"
#include "core/json_field.h"

namespace agentbudget::webhook {
namespace {

constexpr const char* kModelEnvVars[] = {
    "ANTHROPIC_MODEL",         "ANTHROPIC_SMALL_FAST_MODEL",   "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "ANTHROPIC_DEFAULT_SONNET_MODEL", "ANTHROPIC_DEFAULT_HAIKU_MODEL", "OPENAI_MODEL",
    "AGENTBUDGET_MODEL"};

std::string ObjectName(const nlohmann::json& object) {
  std::string name = core::Member(object, {"metadata", "name"}).is_string()
                         ? core::Member(object, {"metadata", "name"}).get<std::string>()
                         : std::string();
  if (name.empty() && core::Member(object, {"metadata", "generateName"}).is_string()) {
    name = core::Member(object, {"metadata", "generateName"}).get<std::string>() + "*";
  }
  return name.empty() ? "(unnamed)" : name;
}

bool HasMeterSidecar(const nlohmann::json& pod_spec) {
  const nlohmann::json& init = core::Member(pod_spec, {"initContainers"});
  if (!init.is_array()) {
    return false;
  }
  for (const nlohmann::json& c : init) {
    if (c.is_object() && core::StringField(c, "name") == v1alpha1::keys::kMeterContainer &&
        core::StringField(c, "restartPolicy") == "Always") {
      return true;
    }
  }
  return false;
}

// The namespace must name the team that pays (docs/design.md, "Labels and annotations").
std::string MissingTeam(const AdmissionContext& context) {
  auto team = context.namespace_labels.find(v1alpha1::keys::kTeam);
  if (team == context.namespace_labels.end() || team->second.empty()) {
    return "namespace " + context.namespace_name + " has no " + v1alpha1::keys::kTeam +
           " label; governed agent work must be charged to a team";
  }
  return "";
}

std::string DisallowedModel(const nlohmann::json& pod_spec, const nlohmann::json& annotations,
                            const v1alpha1::Workload& workload) {
  if (workload.allowed_models.empty()) {
    return "";
  }
  for (const RequestedModel& requested : RequestedModels(pod_spec, annotations)) {
    if (std::find(workload.allowed_models.begin(), workload.allowed_models.end(),
                  requested.model) == workload.allowed_models.end()) {
      std::string allowed;
      for (const std::string& m : workload.allowed_models) {
        allowed += (allowed.empty() ? "" : ", ") + m;
      }
      return "model " + requested.model + " (" + requested.source +
             ") is not allowed by AgentWorkload " + workload.name + "; allowed: " + allowed;
    }
  }
  return "";
}

// Checks the stamped labels against what the mutation would set.
std::string MissingAttribution(const nlohmann::json& object, const AdmissionContext& context,
                               bool need_run) {
  const core::Labels labels = v1alpha1::LabelsOf(object);
  std::vector<const char*> required = {v1alpha1::keys::kWorkload, v1alpha1::keys::kTeam};
  if (need_run) {
    required.push_back(v1alpha1::keys::kRun);
  }
  for (const char* key : required) {
    if (labels.find(key) == labels.end()) {
      return std::string("missing label ") + key;
    }
  }
  auto team = context.namespace_labels.find(v1alpha1::keys::kTeam);
  if (labels.at(v1alpha1::keys::kTeam) != team->second) {
    return std::string("label ") + v1alpha1::keys::kTeam + "=" + labels.at(v1alpha1::keys::kTeam) +
           " differs from the namespace's team " + team->second;
  }
  return "";
}

AdmissionDecision Deny(std::string message) {
  return AdmissionDecision::Deny(403, std::move(message));
}

AdmissionDecision Invalid(std::string message) {
  return AdmissionDecision::Deny(422, std::move(message), "Invalid");
}

bool IsDnsSubdomain(const std::string& name) {
  if (name.empty() || name.size() > 253) {
    return false;
  }
  for (char c : name) {
    if (!((std::islower(static_cast<unsigned char>(c)) != 0) ||
          (std::isdigit(static_cast<unsigned char>(c)) != 0) || c == '-' || c == '.')) {
      return false;
    }
  }
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  return alnum(name.front()) && alnum(name.back());
}

}  // namespace

std::vector<RequestedModel> RequestedModels(const nlohmann::json& pod_spec,
                                            const nlohmann::json& annotations) {
  std::vector<RequestedModel> out;
  for (const char* list : {"initContainers", "containers"}) {
    const nlohmann::json& containers = core::Member(pod_spec, {list});
    if (!containers.is_array()) {
      continue;
    }
    for (const nlohmann::json& c : containers) {
      if (!c.is_object() || core::StringField(c, "name") == v1alpha1::keys::kMeterContainer) {
        continue;
      }
      const nlohmann::json& env = core::Member(c, {"env"});
      if (!env.is_array()) {
        continue;
      }
      for (const nlohmann::json& e : env) {
        if (!e.is_object() || !core::Member(e, {"value"}).is_string()) {
          continue;
        }
        const std::string name = core::StringField(e, "name");
        const std::string value = e["value"].get<std::string>();
        if (value.empty() || std::find(std::begin(kModelEnvVars), std::end(kModelEnvVars),
                                       name) == std::end(kModelEnvVars)) {
          continue;
        }
        out.push_back({value, "container " + core::StringField(c, "name") + " env " + name});
      }
    }
  }
  const nlohmann::json& listed = core::Member(annotations, {v1alpha1::keys::kModels});
  if (listed.is_string()) {
    const std::string text = listed.get<std::string>();
    size_t start = 0;
    while (start <= text.size()) {
      size_t comma = text.find(',', start);
      if (comma == std::string::npos) {
        comma = text.size();
      }
      std::string model = text.substr(start, comma - start);
      model.erase(0, model.find_first_not_of(' '));
      model.erase(model.find_last_not_of(' ') + 1);
      if (!model.empty()) {
        out.push_back({model, std::string("annotation ") + v1alpha1::keys::kModels});
      }
      start = comma + 1;
    }
  }
  return out;
}

AdmissionDecision ValidatePod(const nlohmann::json& pod, const AdmissionContext& context) {
  if (!NamespaceOptedIn(context.namespace_labels) || context.workload == nullptr) {
    return AdmissionDecision::Allow();
  }
  const std::string name = "pod " + ObjectName(pod);
  const std::string why_not = WhyNotGoverned(pod, context);
  if (why_not == "it uses the host network") {
    return Deny(name + " is selected by AgentWorkload " + context.workload->name +
                " but uses the host network, where the meter cannot own the pod's loopback");
  }
  if (!why_not.empty()) {
    return AdmissionDecision::Allow();  // mirror pods: the kubelet's, not ours
  }
  if (std::string team = MissingTeam(context); !team.empty()) {
    return Deny(name + ": " + team);
  }
  const nlohmann::json& spec = core::Member(pod, {"spec"});
  if (!HasMeterSidecar(spec)) {
    return Deny(name + " is governed by AgentWorkload " + context.workload->name +
                " but has no " + v1alpha1::keys::kMeterContainer +
                " sidecar (the mutating webhook did not run); create it again");
  }
  if (std::string missing = MissingAttribution(pod, context, /*need_run=*/true);
      !missing.empty()) {
    return Deny(name + " is governed by AgentWorkload " + context.workload->name + ": " +
                missing);
  }
  if (std::string model =
          DisallowedModel(spec, core::Member(pod, {"metadata", "annotations"}), *context.workload);
      !model.empty()) {
    return Deny(name + ": " + model);
  }
  return AdmissionDecision::Allow();
}

AdmissionDecision ValidateJob(const nlohmann::json& job, const AdmissionContext& context) {
  if (!NamespaceOptedIn(context.namespace_labels) || context.workload == nullptr) {
    return AdmissionDecision::Allow();
  }
  const std::string name = "job " + ObjectName(job);
  if (std::string team = MissingTeam(context); !team.empty()) {
    return Deny(name + ": " + team);
  }
  const nlohmann::json& suspend = core::Member(job, {"spec", "suspend"});
  if (!suspend.is_boolean() || !suspend.get<bool>()) {
    return Deny(name + " is governed by AgentWorkload " + context.workload->name +
                " and must be created suspended (the operator admits it); the mutating "
                "webhook did not run, create it again");
  }
  if (std::string missing = MissingAttribution(job, context, /*need_run=*/false);
      !missing.empty()) {
    return Deny(name + " is governed by AgentWorkload " + context.workload->name + ": " +
                missing);
  }
  const nlohmann::json& pod_template = core::Member(job, {"spec", "template"});
  if (std::string model = DisallowedModel(core::Member(pod_template, {"spec"}),
                                          core::Member(pod_template, {"metadata", "annotations"}),
                                          *context.workload);
      !model.empty()) {
    return Deny(name + ": " + model);
  }
  return AdmissionDecision::Allow();
}

AdmissionDecision ValidateAgentWorkload(const nlohmann::json& object) {
  auto parsed = v1alpha1::ParseWorkload(object);
  if (!parsed.ok()) {
    return Invalid("AgentWorkload: " + parsed.error().message);
  }
  const v1alpha1::Workload& w = *parsed;
  const std::string name = "AgentWorkload " + w.name;
  if (!w.max_cost.empty()) {
    auto cost = core::Money::Parse(w.max_cost);
    if (!cost.ok()) {
      return Invalid(name + ": spec.perRun.maxCost: " + cost.error().message);
    }
  }
  for (const auto& [key, value] : w.tags) {
    std::string lower;
    for (char c : key) {
      lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (lower == "team" || lower == "cost-center" || lower == "costcenter" ||
        lower.rfind("agentbudget.io/", 0) == 0) {
      return Invalid(name + ": spec.attribution.tags." + key +
                     " is reserved: team and cost center come from the namespace labels");
    }
  }
  if (!w.credentials_secret.empty() && !IsDnsSubdomain(w.credentials_secret)) {
    return Invalid(name + ": spec.meter.credentialsSecretRef.name \"" + w.credentials_secret +
                   "\" is not a valid Secret name");
  }
  std::set<std::string> seen;
  for (const std::string& m : w.allowed_models) {
    if (!seen.insert(m).second) {
      return Invalid(name + ": spec.models.allowed lists " + m + " twice");
    }
  }
  return AdmissionDecision::Allow();
}

AdmissionDecision ValidateAgentBudget(const nlohmann::json& budget,
                                      const std::string& zoneinfo_dir) {
  const std::string name = "AgentBudget " + ObjectName(budget);
  const nlohmann::json& spec = core::Member(budget, {"spec"});
  if (!spec.is_object()) {
    return Invalid(name + ": spec is missing or not an object");
  }
  const nlohmann::json& amount = core::Member(spec, {"limit", "amount"});
  if (!amount.is_null()) {
    if (!amount.is_string()) {
      return Invalid(name + ": spec.limit.amount must be a decimal string");
    }
    auto money = core::Money::Parse(amount.get<std::string>());
    if (!money.ok()) {
      return Invalid(name + ": spec.limit.amount: " + money.error().message);
    }
  }
  const nlohmann::json& zone = core::Member(spec, {"timeZone"});
  if (zone.is_string()) {
    auto tz = core::TimeZone::Load(zone.get<std::string>(), zoneinfo_dir);
    if (!tz.ok()) {
      return Invalid(name + ": spec.timeZone " + zone.get<std::string>() +
                     " is not a known IANA time zone");
    }
  } else if (!zone.is_null()) {
    return Invalid(name + ": spec.timeZone must be a string");
  }
  const nlohmann::json& alerts = core::Member(spec, {"alerts"});
  if (alerts.is_array()) {
    std::set<int64_t> unique;
    for (const nlohmann::json& a : alerts) {
      if (!a.is_number_integer()) {
        return Invalid(name + ": spec.alerts must be integers");
      }
      if (!unique.insert(a.get<int64_t>()).second) {
        return Invalid(name + ": spec.alerts lists " + std::to_string(a.get<int64_t>()) +
                       " twice");
      }
    }
  }
  for (const char* field : {"selector", "namespaceSelector"}) {
    auto selector = core::LabelSelector::FromJson(core::Member(spec, {field}));
    if (!selector.ok()) {
      return Invalid(name + ": spec." + field + ": " + selector.error().message);
    }
  }
  return AdmissionDecision::Allow();
}

AdmissionDecision FanoutDenial(const std::string& parent_run, int64_t count, int64_t cap,
                               const std::string& workload) {
  return AdmissionDecision::Deny(
      403, "run " + parent_run + " has already created " + std::to_string(count) + " of " +
               std::to_string(cap) + " subagents (perRun.maxSubagents of AgentWorkload " +
               workload + ", onLimit: Reject)");
}

}  // namespace agentbudget::webhook
