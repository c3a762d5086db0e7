#include "webhook/mutation.h"

#include <utility>
#include <vector>

#include "api/v1alpha1/labels.h"
#include "core/json_field.h"
#include "webhook/attribution.h"
#include "webhook/reserved_names.h"

namespace agentbudget::webhook {
namespace {

constexpr const char* kCredentialsDir = "/var/run/agentbudget/credentials";
constexpr const char* kTokenDir = "/var/run/agentbudget/token";
constexpr const char* kSpoolDir = "/var/run/agentbudget/spool";
constexpr int kHealthPort = 8788;
// What agent containers see instead of real keys under key custody.
constexpr const char* kPlaceholderKey = "agentbudget-placeholder-key";
// Version of the injection recorded in agentbudget.io/injected.
constexpr const char* kInjectionVersion = "v1";

nlohmann::json Env(const std::string& name, const std::string& value) {
  return {{"name", name}, {"value", value}};
}

// The env var named `name` in a container's env list, or nullptr.
const nlohmann::json* FindEnv(const nlohmann::json& env, const std::string& name, size_t* index) {
  if (!env.is_array()) {
    return nullptr;
  }
  for (size_t i = 0; i < env.size(); ++i) {
    if (env[i].is_object() && core::StringField(env[i], "name") == name) {
      *index = i;
      return &env[i];
    }
  }
  return nullptr;
}

// Adds the agent env: base URLs to the meter, placeholder keys under custody.
void PatchAgentEnv(const nlohmann::json& pod_spec, const AdmissionContext& context,
                   const MeterSettings& meter, PatchBuilder& patch) {
  const nlohmann::json& containers = core::Member(pod_spec, {"containers"});
  if (!containers.is_array()) {
    return;
  }
  const std::string base = "http://127.0.0.1:" + std::to_string(meter.port);
  std::vector<std::pair<std::string, std::string>> wanted = {
      {"ANTHROPIC_BASE_URL", base + "/anthropic"}, {"OPENAI_BASE_URL", base + "/openai/v1"}};
  const bool custody = context.workload->key_custody();
  if (custody) {
    wanted.emplace_back("ANTHROPIC_API_KEY", kPlaceholderKey);
    wanted.emplace_back("OPENAI_API_KEY", kPlaceholderKey);
  }
  for (size_t i = 0; i < containers.size(); ++i) {
    if (!containers[i].is_object()) {
      continue;
    }
    const nlohmann::json& env = core::Member(containers[i], {"env"});
    const std::string env_path = Pointer({"spec", "containers", std::to_string(i), "env"});
    nlohmann::json added = nlohmann::json::array();
    for (const auto& [name, value] : wanted) {
      size_t index = 0;
      const nlohmann::json* existing = FindEnv(env, name, &index);
      if (existing == nullptr) {
        added.push_back(Env(name, value));
      } else if (custody && *existing != Env(name, value)) {
        patch.Replace(env_path + "/" + std::to_string(index), Env(name, value));
      }
    }
    if (added.empty()) {
      continue;
    }
    if (!env.is_array()) {
      patch.Add(env_path, std::move(added));
    } else {
      for (nlohmann::json& e : added) {
        patch.Add(env_path + "/-", std::move(e));
      }
    }
  }
}

// Makes the Job's integer spec.<field> at most `cap`: added when unset, lowered when larger,
// kept when already within the cap.
void CapJobSpecField(const nlohmann::json& spec, const char* field, int64_t cap,
                     PatchBuilder& patch) {
  const nlohmann::json& value = core::Member(spec, {field});
  const std::string path = std::string("/spec/") + field;
  if (!value.is_number_integer()) {
    patch.Add(path, cap);
  } else if (value.get<int64_t>() > cap) {
    patch.Replace(path, cap);
  }
}

nlohmann::json InjectedRecord(const std::string& kind, const AdmissionContext& context,
                              const std::string& image) {
  nlohmann::json record = {{"version", kInjectionVersion},
                           {"kind", kind},
                           {"workload", context.workload->name}};
  if (!image.empty()) {
    record["meter"] = image;
  }
  return record.dump();
}

}  // namespace

std::string WhyNotGoverned(const nlohmann::json& pod, const AdmissionContext& context) {
  if (!NamespaceOptedIn(context.namespace_labels)) {
    return "namespace " + context.namespace_name + " has not opted in";
  }
  if (context.workload == nullptr) {
    return "no AgentWorkload selects it";
  }
  if (core::Member(pod, {"metadata", "annotations", "kubernetes.io/config.mirror"}).is_string()) {
    return "it is a mirror pod";
  }
  return "";
}

std::optional<RuleViolation> ReservedNameViolation(const nlohmann::json& pod_spec) {
  for (const char* list : {"initContainers", "containers", "volumes"}) {
    const nlohmann::json& items = core::Member(pod_spec, {list});
    for (size_t i = 0; items.is_array() && i < items.size(); ++i) {
      const std::string name = core::StringField(items[i], "name");
      if (!IsReservedName(name)) {
        continue;
      }
      const bool volume = list == std::string_view("volumes");
      const std::string what = volume ? "volume" : "container";
      return RuleViolation{"reserved-name",
                           what + " name " + Quoted(name) + " (spec." + list +
                               ") is reserved for agentbudget",
                           "rename the " + what + " (names starting " +
                               std::string(kReservedPrefix) + " are agentbudget's)"};
    }
  }
  return std::nullopt;
}

std::optional<RuleViolation> JobOwnerViolation(const nlohmann::json& pod,
                                               const AdmissionContext& context) {
  if (context.job_controller || !OwnedByJob(pod, nullptr)) {
    return std::nullopt;
  }
  return RuleViolation{"job-owner",
                       "it names a Job as its controller, but only the Job controller creates "
                       "a Job's pods",
                       "create a Job instead, or remove the Job ownerReference"};
}

nlohmann::json MeterContainer(const AdmissionContext& context, const MeterSettings& meter) {
  const v1alpha1::Workload& w = *context.workload;
  nlohmann::json env = nlohmann::json::array();
  // The documented contract (docs/webhook.md); the args below pass the same values as the
  // meter's flags through Kubernetes $(VAR) expansion.
  std::vector<std::pair<std::string, std::string>> flags;
  auto set = [&](const std::string& var, const std::string& flag, const std::string& value) {
    if (value.empty()) {
      return;
    }
    env.push_back(Env(var, value));
    if (!flag.empty()) {
      flags.emplace_back(flag, var);
    }
  };
  env.push_back({{"name", "AGENTBUDGET_NAMESPACE"},
                 {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.namespace"}}}}}});
  env.push_back({{"name", "AGENTBUDGET_POD_NAME"},
                 {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}});
  flags.emplace_back("namespace", "AGENTBUDGET_NAMESPACE");
  set("AGENTBUDGET_WORKLOAD", "workload", w.name);
  set("AGENTBUDGET_RUN", "run", context.run);
  set("AGENTBUDGET_PARENT_RUN", "", context.parent_run);
  set("AGENTBUDGET_LISTEN", "listen", "127.0.0.1:" + std::to_string(meter.port));
  set("AGENTBUDGET_HEALTH_LISTEN", "", "0.0.0.0:" + std::to_string(kHealthPort));
  set("AGENTBUDGET_AUTHORITY_URL", "authority-url", meter.authority_url);
  set("AGENTBUDGET_AUTHORITY_CA", "", meter.authority_ca);
  set("AGENTBUDGET_AUTHORITY_TOKEN_FILE", "authority-token-file",
      std::string(kTokenDir) + "/token");
  set("AGENTBUDGET_FAILURE_MODE", "failure-mode", w.failure_mode);
  set("AGENTBUDGET_SPOOL_DIR", "spool-dir", kSpoolDir);
  set("AGENTBUDGET_MAX_COST", "max-cost", w.max_cost);
  auto number = [](const std::optional<int64_t>& n) { return n ? std::to_string(*n) : ""; };
  set("AGENTBUDGET_MAX_TOKENS", "max-tokens", number(w.max_tokens));
  set("AGENTBUDGET_MAX_REQUESTS", "max-requests", number(w.max_requests));
  set("AGENTBUDGET_MAX_IDENTICAL_REQUESTS", "max-identical-requests",
      number(w.max_identical_requests));
  set("AGENTBUDGET_REQUEST_MAX_COST", "request-max-cost", w.request_max_cost);
  set("AGENTBUDGET_REQUEST_MAX_TOKENS", "request-max-tokens", number(w.request_max_tokens));
  set("AGENTBUDGET_REQUEST_ON_EXCEED", "request-on-exceed",
      w.request_max_cost.empty() && !w.request_max_tokens ? "" : w.request_on_exceed);
  set("AGENTBUDGET_ANTHROPIC_UPSTREAM", "anthropic-upstream", w.anthropic_upstream);
  set("AGENTBUDGET_OPENAI_UPSTREAM", "openai-upstream", w.openai_upstream);
  std::string allowed;
  for (const std::string& m : w.allowed_models) {
    allowed += (allowed.empty() ? "" : ",") + m;
  }
  std::string fallback;
  for (const std::string& m : w.fallback_models) {
    fallback += (fallback.empty() ? "" : ",") + m;
  }
  set("AGENTBUDGET_MODELS_ALLOWED", "", allowed);
  set("AGENTBUDGET_MODELS_FALLBACK", "", fallback);
  if (w.key_source == v1alpha1::KeySource::kAuthority) {
    set("AGENTBUDGET_KEY_SOURCE", "key-source", "authority");
  } else if (w.mounts_secret()) {
    set("AGENTBUDGET_ANTHROPIC_KEY_FILE", "anthropic-key-file",
        std::string(kCredentialsDir) + "/anthropic-api-key");
    set("AGENTBUDGET_OPENAI_KEY_FILE", "openai-key-file",
        std::string(kCredentialsDir) + "/openai-api-key");
  }
  nlohmann::json args = nlohmann::json::array();
  for (const auto& [flag, var] : flags) {
    args.push_back("--" + flag + "=$(" + var + ")");
  }
  nlohmann::json mounts = nlohmann::json::array(
      {{{"name", kTokenVolume}, {"mountPath", kTokenDir}, {"readOnly", true}},
       {{"name", kSpoolVolume}, {"mountPath", kSpoolDir}}});
  if (w.mounts_secret()) {
    mounts.push_back({{"name", kCredentialsVolume}, {"mountPath", kCredentialsDir},
                      {"readOnly", true}});
  }
  return {
      {"name", v1alpha1::keys::kMeterContainer},
      {"image", meter.image},
      {"imagePullPolicy", meter.image_pull_policy},
      {"restartPolicy", "Always"},
      {"args", std::move(args)},
      {"env", std::move(env)},
      {"ports", {{{"name", "meter-health"}, {"containerPort", kHealthPort}}}},
      {"startupProbe",
       {{"httpGet", {{"path", "/healthz"}, {"port", kHealthPort}}},
        {"periodSeconds", 1},
        {"failureThreshold", 30}}},
      {"resources",
       {{"requests", {{"cpu", meter.cpu_request}, {"memory", meter.memory_request}}},
        {"limits", {{"cpu", meter.cpu_limit}, {"memory", meter.memory_limit}}}}},
      {"securityContext",
       {{"runAsNonRoot", true},
        {"runAsUser", meter.run_as_user},
        {"readOnlyRootFilesystem", true},
        {"allowPrivilegeEscalation", false},
        {"capabilities", {{"drop", {"ALL"}}}},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"volumeMounts", std::move(mounts)},
  };
}

nlohmann::json InjectedVolumes(const v1alpha1::Workload& workload) {
  nlohmann::json volumes = nlohmann::json::array(
      {{{"name", kTokenVolume},
        {"projected",
         {{"sources",
           {{{"serviceAccountToken",
              {{"audience", kTokenAudience}, {"expirationSeconds", 3600}, {"path", "token"}}}}}}}}},
       {{"name", kSpoolVolume}, {"emptyDir", {{"sizeLimit", "64Mi"}}}}});
  if (workload.mounts_secret()) {
    volumes.push_back({{"name", kCredentialsVolume},
                       {"secret", {{"secretName", workload.credentials_secret},
                                   {"defaultMode", 0444},
                                   {"optional", false}}}});
  }
  return volumes;
}

SystemMetadata PodSystemMetadata(const AdmissionContext& context, const MeterSettings& meter) {
  SystemMetadata out = AttributionFor(context, /*include_run=*/true);
  out.annotations[v1alpha1::keys::kInjected] = InjectedRecord("Pod", context, meter.image);
  return out;
}

SystemMetadata JobSystemMetadata(const AdmissionContext& context) {
  SystemMetadata out = AttributionFor(context, /*include_run=*/false);
  out.annotations[v1alpha1::keys::kInjected] = InjectedRecord("Job", context, "");
  out.annotations[v1alpha1::keys::kQueue] =
      nlohmann::json{{"state", "Pending"}, {"reason", "AwaitingAdmission"}}.dump();
  return out;
}

SystemMetadata TemplateSystemMetadata(const AdmissionContext& context) {
  return AttributionFor(context, /*include_run=*/false);
}

bool HasAdmissionGate(const nlohmann::json& pod_spec) {
  const nlohmann::json& gates = core::Member(pod_spec, {"schedulingGates"});
  for (size_t i = 0; gates.is_array() && i < gates.size(); ++i) {
    if (core::StringField(gates[i], "name") == v1alpha1::keys::kSchedulingGate) {
      return true;
    }
  }
  return false;
}

bool OwnedByJob(const nlohmann::json& pod, std::string* uid) {
  const nlohmann::json& owners = core::Member(pod, {"metadata", "ownerReferences"});
  if (!owners.is_array()) {
    return false;
  }
  for (const nlohmann::json& owner : owners) {
    if (!owner.is_object() || core::StringField(owner, "kind") != "Job") {
      continue;
    }
    const nlohmann::json& controller = core::Member(owner, {"controller"});
    if (controller.is_boolean() && controller.get<bool>()) {
      if (uid != nullptr) {
        *uid = core::StringField(owner, "uid");
      }
      return true;
    }
  }
  return false;
}

AdmissionDecision MutatePod(const nlohmann::json& pod, const AdmissionContext& context,
                            const MeterSettings& meter) {
  if (!pod.is_object() || !WhyNotGoverned(pod, context).empty()) {
    return AdmissionDecision::Allow();
  }
  const nlohmann::json& spec = core::Member(pod, {"spec"});
  if (!spec.is_object() || !core::Member(pod, {"metadata"}).is_object()) {
    return AdmissionDecision::Allow();  // the API server refuses it on its own
  }
  const std::string subject = SubjectOf("pod", context.namespace_name, pod);
  if (auto violation = JobOwnerViolation(pod, context)) {
    return DenyByRule(subject, *violation);
  }
  if (auto violation = ReservedNameViolation(spec)) {
    return DenyByRule(subject, *violation);
  }
  PatchBuilder patch;
  // The meter first, so it is up before other init containers that may call a model.
  const nlohmann::json& init = core::Member(spec, {"initContainers"});
  if (init.is_array()) {
    patch.Add("/spec/initContainers/0", MeterContainer(context, meter));
  } else {
    patch.Add("/spec/initContainers", nlohmann::json::array({MeterContainer(context, meter)}));
  }
  nlohmann::json volumes = InjectedVolumes(*context.workload);
  patch.Append("/spec/volumes", core::Member(spec, {"volumes"}), volumes[0]);
  for (size_t i = 1; i < volumes.size(); ++i) {
    patch.Add("/spec/volumes/-", volumes[i]);
  }
  PatchAgentEnv(spec, context, meter, patch);
  if (!OwnedByJob(pod, nullptr) && !HasAdmissionGate(spec)) {
    patch.Append("/spec/schedulingGates", core::Member(spec, {"schedulingGates"}),
                 {{"name", v1alpha1::keys::kSchedulingGate}});
  }
  PatchSystemMetadata("/metadata", pod["metadata"], PodSystemMetadata(context, meter), patch);
  AdmissionDecision d = AdmissionDecision::Allow();
  d.patch = patch.ops();
  return d;
}

AdmissionDecision MutateJob(const nlohmann::json& job, const AdmissionContext& context) {
  if (!job.is_object() || !NamespaceOptedIn(context.namespace_labels) ||
      context.workload == nullptr) {
    return AdmissionDecision::Allow();
  }
  const nlohmann::json& spec = core::Member(job, {"spec"});
  if (!spec.is_object() || !core::Member(job, {"metadata"}).is_object() ||
      !core::Member(spec, {"template"}).is_object()) {
    return AdmissionDecision::Allow();  // the API server refuses it on its own
  }
  if (auto violation = ReservedNameViolation(core::Member(spec, {"template", "spec"}))) {
    return DenyByRule(SubjectOf("job", context.namespace_name, job), *violation);
  }
  PatchBuilder patch;
  const v1alpha1::Workload& w = *context.workload;
  const nlohmann::json& suspend = core::Member(spec, {"suspend"});
  if (!suspend.is_boolean()) {
    patch.Add("/spec/suspend", true);
  } else if (!suspend.get<bool>()) {
    patch.Replace("/spec/suspend", true);
  }
  if (w.max_runtime_seconds) {
    CapJobSpecField(spec, "activeDeadlineSeconds", *w.max_runtime_seconds, patch);
  }
  if (w.max_retries) {
    CapJobSpecField(spec, "backoffLimit", *w.max_retries, patch);
  }
  // The template gets the attribution too, so the Job's pods are selected and stamped the
  // same way; their run is the Job's UID, set when each pod is admitted.
  PatchSystemMetadata("/spec/template/metadata", core::Member(spec, {"template", "metadata"}),
                      TemplateSystemMetadata(context), patch);
  PatchSystemMetadata("/metadata", job["metadata"], JobSystemMetadata(context), patch);
  AdmissionDecision d = AdmissionDecision::Allow();
  d.patch = patch.ops();
  return d;
}

}  // namespace agentbudget::webhook
