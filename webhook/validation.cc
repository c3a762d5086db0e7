#include "webhook/validation.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "api/v1alpha1/labels.h"
#include "core/json_field.h"
#include "core/money.h"
#include "core/request_ceiling.h"
#include "core/time_zone.h"
#include "webhook/reserved_names.h"
#include "webhook/stored_match.h"

namespace agentbudget::webhook {
namespace {

constexpr const char* kModelEnvVars[] = {
    "ANTHROPIC_MODEL",         "ANTHROPIC_SMALL_FAST_MODEL",   "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "ANTHROPIC_DEFAULT_SONNET_MODEL", "ANTHROPIC_DEFAULT_HAIKU_MODEL", "OPENAI_MODEL",
    "AGENTBUDGET_MODEL"};

// The namespace must name the team that pays (docs/design.md, "Labels and annotations").
std::optional<RuleViolation> MissingTeam(const AdmissionContext& context) {
  auto team = context.namespace_labels.find(v1alpha1::keys::kTeam);
  if (team == context.namespace_labels.end() || team->second.empty()) {
    return RuleViolation{"namespace-team",
                         "namespace " + context.namespace_name + " has no " +
                             v1alpha1::keys::kTeam + " label",
                         "governed agent work is charged to a team: ask the cluster admin to "
                         "label the namespace"};
  }
  return std::nullopt;
}

std::optional<RuleViolation> DisallowedModel(const nlohmann::json& pod_spec,
                                             const nlohmann::json& annotations,
                                             const v1alpha1::Workload& workload) {
  if (workload.allowed_models.empty()) {
    return std::nullopt;
  }
  for (const RequestedModel& requested : RequestedModels(pod_spec, annotations)) {
    if (std::find(workload.allowed_models.begin(), workload.allowed_models.end(),
                  requested.model) == workload.allowed_models.end()) {
      std::string allowed;
      for (const std::string& m : workload.allowed_models) {
        allowed += (allowed.empty() ? "" : ", ") + m;
      }
      return RuleViolation{"allowed-models",
                           "model " + requested.model + " (" + requested.source +
                               ") is not allowed by AgentWorkload " + workload.name,
                           "use one of the allowed models: " + allowed};
    }
  }
  return std::nullopt;
}

// How system metadata that agentbudget computes differs from what the object carries.
std::optional<RuleViolation> MetadataViolation(const char* where, const SystemMetadata& stored,
                                               const SystemMetadata& want) {
  auto change = FirstChange(want, stored);
  if (!change) {
    return std::nullopt;
  }
  std::string problem = std::string(where) + change->field + " " + change->key;
  if (!change->to) {
    problem += " is missing (agentbudget sets " + Quoted(*change->from) + ")";
  } else if (!change->from) {
    problem += " is " + Quoted(*change->to) + ", which only agentbudget sets";
  } else {
    problem += " is " + Quoted(*change->to) + ", agentbudget sets " +
               Quoted(*change->from);
  }
  return RuleViolation{"system-metadata", problem,
                       "agentbudget.io/ labels and annotations (but agentbudget.io/models and "
                       "agentbudget.io/outcome) are agentbudget's: the mutating webhook did not "
                       "run, create it again without them"};
}

// The meter and its volumes in a governed pod as stored, against what the webhook builds
// for `context`.
std::optional<RuleViolation> InjectedPartsViolation(const nlohmann::json& spec,
                                                    const AdmissionContext& context,
                                                    const MeterSettings& meter) {
  const nlohmann::json& init = core::Member(spec, {"initContainers"});
  const bool has_meter = init.is_array() && !init.empty() &&
                         core::StringField(init[0], "name") == v1alpha1::keys::kMeterContainer;
  if (!has_meter) {
    return RuleViolation{"meter-missing",
                         std::string("it is governed by AgentWorkload ") + context.workload->name +
                             " but its first init container is not the " +
                             v1alpha1::keys::kMeterContainer + " sidecar",
                         "the mutating webhook did not run: create it again"};
  }
  const std::string fix =
      "names starting " + std::string(kReservedPrefix) +
      " are agentbudget's; create it again without them and the webhook injects its own";
  if (std::string d = StoredDifference(init[0], MeterContainer(context, meter)); !d.empty()) {
    return RuleViolation{"reserved-name",
                         std::string("container ") + v1alpha1::keys::kMeterContainer +
                             " is not the meter agentbudget injects: " + d,
                         fix};
  }
  for (const char* list : {"initContainers", "containers"}) {
    const nlohmann::json& containers = core::Member(spec, {list});
    for (size_t i = 0; containers.is_array() && i < containers.size(); ++i) {
      if ((list != std::string_view("initContainers") || i > 0) &&
          IsReservedName(core::StringField(containers[i], "name"))) {
        return RuleViolation{"reserved-name",
                             "container name " +
                                 Quoted(core::StringField(containers[i], "name")) +
                                 " (spec." + list + ") is reserved for agentbudget",
                             fix};
      }
    }
  }
  const nlohmann::json built = InjectedVolumes(*context.workload);
  std::map<std::string, const nlohmann::json*> wanted;
  for (const nlohmann::json& volume : built) {
    wanted[volume["name"].get<std::string>()] = &volume;
  }
  const nlohmann::json& volumes = core::Member(spec, {"volumes"});
  for (size_t i = 0; volumes.is_array() && i < volumes.size(); ++i) {
    const std::string name = core::StringField(volumes[i], "name");
    if (!IsReservedName(name)) {
      continue;
    }
    auto it = wanted.find(name);
    std::string d = it == wanted.end() ? "agentbudget adds no such volume"
                                       : StoredDifference(volumes[i], *it->second);
    if (it != wanted.end()) {
      wanted.erase(it);
    }
    if (!d.empty()) {
      return RuleViolation{"reserved-name",
                           "volume " + Quoted(name) +
                               " is not the one agentbudget adds: " + d,
                           fix};
    }
  }
  if (!wanted.empty()) {
    return RuleViolation{"meter-missing",
                         "the meter's volume " + Quoted(wanted.begin()->first) +
                             " is missing",
                         "the mutating webhook did not run: create it again"};
  }
  return std::nullopt;
}

// A Job's integer spec.<field> must be set and at most `cap`.
std::optional<RuleViolation> OverCap(const nlohmann::json& spec, const char* field,
                                     const std::optional<int64_t>& cap, const char* rule,
                                     const std::string& limit) {
  if (!cap) {
    return std::nullopt;
  }
  const nlohmann::json& value = core::Member(spec, {field});
  if (value.is_number_integer() && value.get<int64_t>() <= *cap) {
    return std::nullopt;
  }
  return RuleViolation{rule,
                       std::string("spec.") + field + " is " +
                           (value.is_null() ? std::string("unset") : value.dump()) + ", above " +
                           limit + " " + std::to_string(*cap),
                       "the mutating webhook did not run: create it again"};
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

AdmissionDecision ValidatePod(const nlohmann::json& pod, const AdmissionContext& context,
                              const MeterSettings& meter) {
  if (!pod.is_object() || !WhyNotGoverned(pod, context).empty()) {
    return AdmissionDecision::Allow();  // not ours; mirror pods are the kubelet's
  }
  const std::string subject = SubjectOf("pod", context.namespace_name, pod);
  const nlohmann::json& spec = core::Member(pod, {"spec"});
  // A bare pod's run is the mutation's request UID, which validation cannot recompute: it
  // takes the run label, which the meter's AGENTBUDGET_RUN must then equal.
  AdmissionContext own = context;
  const bool bare = !OwnedByJob(pod, nullptr);
  if (bare) {
    own.run = core::StringField(core::Member(pod, {"metadata", "labels"}), v1alpha1::keys::kRun);
  }
  std::optional<RuleViolation> violation = MissingTeam(own);
  if (!violation) {
    violation = JobOwnerViolation(pod, own);
  }
  if (!violation) {
    violation = InjectedPartsViolation(spec, own, meter);
  }
  if (!violation) {
    violation = KeyCustodyViolation(spec, *own.workload, own.allowed_features);
  }
  if (!violation && bare && !HasAdmissionGate(spec)) {
    violation = RuleViolation{"admission-gate",
                              std::string("it has no scheduling gate ") +
                                  v1alpha1::keys::kSchedulingGate +
                                  ", so it would run before the operator admits it",
                              "the mutating webhook did not run: create it again"};
  }
  if (!violation && bare && own.run.empty()) {
    violation = RuleViolation{"system-metadata",
                              std::string("label ") + v1alpha1::keys::kRun + " is missing",
                              "the mutating webhook did not run: create it again"};
  }
  if (!violation) {
    violation = MetadataViolation("", SystemMetadataOf(pod["metadata"]),
                                  PodSystemMetadata(own, meter));
  }
  if (!violation) {
    violation = DisallowedModel(spec, core::Member(pod, {"metadata", "annotations"}),
                                *own.workload);
  }
  return violation ? DenyByRule(subject, *violation) : AdmissionDecision::Allow();
}

AdmissionDecision ValidateJob(const nlohmann::json& job, const AdmissionContext& context) {
  if (!job.is_object() || !NamespaceOptedIn(context.namespace_labels) ||
      context.workload == nullptr) {
    return AdmissionDecision::Allow();
  }
  const v1alpha1::Workload& w = *context.workload;
  const nlohmann::json& spec = core::Member(job, {"spec"});
  const nlohmann::json& pod_template = core::Member(spec, {"template"});
  const nlohmann::json& pod_spec = core::Member(pod_template, {"spec"});
  std::optional<RuleViolation> violation = MissingTeam(context);
  if (!violation) {
    violation = ReservedNameViolation(pod_spec);
  }
  if (!violation) {
    violation = KeyCustodyViolation(pod_spec, w, context.allowed_features);
  }
  const nlohmann::json& suspend = core::Member(spec, {"suspend"});
  if (!violation && (!suspend.is_boolean() || !suspend.get<bool>())) {
    violation = RuleViolation{"held-job",
                              "it is governed by AgentWorkload " + w.name +
                                  " and must be created suspended (the operator admits it)",
                              "the mutating webhook did not run: create it again"};
  }
  if (!violation) {
    violation = OverCap(spec, "activeDeadlineSeconds", w.max_runtime_seconds, "max-runtime",
                        "perRun.maxRuntime (seconds) of AgentWorkload " + w.name);
  }
  if (!violation) {
    violation = OverCap(spec, "backoffLimit", w.max_retries, "max-retries",
                        "perRun.maxRetries of AgentWorkload " + w.name);
  }
  if (!violation) {
    violation = MetadataViolation("", SystemMetadataOf(core::Member(job, {"metadata"})),
                                  JobSystemMetadata(context));
  }
  if (!violation) {
    violation = MetadataViolation("pod template ",
                                  SystemMetadataOf(core::Member(pod_template, {"metadata"})),
                                  TemplateSystemMetadata(context));
  }
  if (!violation) {
    violation = DisallowedModel(pod_spec, core::Member(pod_template, {"metadata", "annotations"}),
                                w);
  }
  return violation ? DenyByRule(SubjectOf("job", context.namespace_name, job), *violation)
                   : AdmissionDecision::Allow();
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
  if (!w.request_max_cost.empty()) {
    auto cost = core::Money::Parse(w.request_max_cost);
    if (!cost.ok()) {
      return Invalid(name + ": spec.perRequest.maxCost: " + cost.error().message);
    }
    if (cost->micros() <= 0) {
      return Invalid(name + ": spec.perRequest.maxCost must be greater than zero");
    }
  }
  if (w.request_max_tokens && *w.request_max_tokens < 1) {
    return Invalid(name + ": spec.perRequest.maxTokens must be at least 1");
  }
  if (auto on_exceed = core::ParseOnExceed(w.request_on_exceed); !on_exceed.ok()) {
    return Invalid(name + ": spec." + on_exceed.error().message);
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
  const std::string name = SubjectOf("AgentBudget", "", budget);
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
  AdmissionDecision d = AdmissionDecision::Deny(
      403, "run " + parent_run + " has already created " + std::to_string(count) + " of " +
               std::to_string(cap) + " subagents (perRun.maxSubagents of AgentWorkload " +
               workload + ", onLimit: Reject) (rule max-subagents); finish or delete the run, "
               "or raise perRun.maxSubagents");
  d.rule = "max-subagents";
  return d;
}

}  // namespace agentbudget::webhook
