#include "webhook/mutation.h"

#include <cctype>
#include <utility>
#include <vector>

#include "core/json_field.h"

namespace agentbudget::webhook {
namespace {

constexpr const char* kCredentialsVolume = "agentbudget-credentials";
constexpr const char* kTokenVolume = "agentbudget-token";
constexpr const char* kSpoolVolume = "agentbudget-spool";
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

bool HasMeter(const nlohmann::json& pod_spec) {
  const nlohmann::json& init = core::Member(pod_spec, {"initContainers"});
  if (!init.is_array()) {
    return false;
  }
  for (const nlohmann::json& c : init) {
    if (c.is_object() && core::StringField(c, "name") == v1alpha1::keys::kMeterContainer) {
      return true;
    }
  }
  return false;
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

bool NamespaceOptedIn(const core::Labels& namespace_labels) {
  auto it = namespace_labels.find(v1alpha1::keys::kInject);
  return it != namespace_labels.end() && it->second == "enabled";
}

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
  const nlohmann::json& host_network = core::Member(pod, {"spec", "hostNetwork"});
  if (host_network.is_boolean() && host_network.get<bool>()) {
    return "it uses the host network";
  }
  return "";
}

std::string SanitizeLabelValue(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool ok = (std::isalnum(static_cast<unsigned char>(c)) != 0) || c == '-' || c == '_' ||
                    c == '.';
    out += ok ? c : '-';
    if (out.size() == 63) {
      break;
    }
  }
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  while (!out.empty() && !alnum(out.back())) {
    out.pop_back();
  }
  size_t start = 0;
  while (start < out.size() && !alnum(out[start])) {
    ++start;
  }
  return out.substr(start);
}

Attribution AttributionFor(const nlohmann::json& object, const AdmissionContext& context,
                           bool include_run) {
  const v1alpha1::Workload& w = *context.workload;
  Attribution a;
  a.labels[v1alpha1::keys::kWorkload] = w.name;
  if (auto team = context.namespace_labels.find(v1alpha1::keys::kTeam);
      team != context.namespace_labels.end()) {
    a.labels[v1alpha1::keys::kTeam] = team->second;
  }
  if (!w.workflow.empty()) {
    a.labels[v1alpha1::keys::kWorkflow] = SanitizeLabelValue(w.workflow);
  }
  if (!w.environment.empty()) {
    a.labels[v1alpha1::keys::kEnvironment] = SanitizeLabelValue(w.environment);
  }
  if (!w.workload_class.empty()) {
    a.labels[v1alpha1::keys::kClass] = w.workload_class;
  }
  if (!w.priority.empty()) {
    a.labels[v1alpha1::keys::kPriority] = w.priority;
  }
  const core::Labels own = v1alpha1::LabelsOf(object);
  if (auto user = own.find(v1alpha1::keys::kUser); user != own.end()) {
    a.labels[v1alpha1::keys::kUser] = user->second;
  } else if (std::string user_value = SanitizeLabelValue(context.username); !user_value.empty()) {
    a.labels[v1alpha1::keys::kUser] = user_value;
  }
  if (include_run && !context.run.empty()) {
    a.labels[v1alpha1::keys::kRun] = SanitizeLabelValue(context.run);
  }
  if (!context.parent_run.empty()) {
    a.labels[v1alpha1::keys::kParentRun] = SanitizeLabelValue(context.parent_run);
  }
  if (!w.repo.empty()) {
    a.annotations[v1alpha1::keys::kRepo] = w.repo;
  }
  if (auto cc = context.namespace_labels.find(v1alpha1::keys::kCostCenter);
      cc != context.namespace_labels.end()) {
    a.annotations[v1alpha1::keys::kCostCenter] = cc->second;
  }
  if (!w.tags.empty()) {
    a.annotations[v1alpha1::keys::kTags] = nlohmann::json(w.tags).dump();
  }
  return a;
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
  if (w.key_custody()) {
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
  if (w.key_custody()) {
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

nlohmann::json MutatePod(const nlohmann::json& pod, const AdmissionContext& context,
                         const MeterSettings& meter) {
  if (!pod.is_object() || !WhyNotGoverned(pod, context).empty()) {
    return nlohmann::json::array();
  }
  const nlohmann::json& spec = core::Member(pod, {"spec"});
  if (!spec.is_object() || !core::Member(pod, {"metadata"}).is_object() ||
      core::Member(pod, {"metadata", "annotations", v1alpha1::keys::kInjected}).is_string() || HasMeter(spec)) {
    return nlohmann::json::array();
  }
  PatchBuilder patch;
  const v1alpha1::Workload& w = *context.workload;
  // The meter first, so it is up before other init containers that may call a model.
  const nlohmann::json& init = core::Member(spec, {"initContainers"});
  if (init.is_array()) {
    patch.Add("/spec/initContainers/0", MeterContainer(context, meter));
  } else {
    patch.Add("/spec/initContainers", nlohmann::json::array({MeterContainer(context, meter)}));
  }
  const nlohmann::json& volumes = core::Member(spec, {"volumes"});
  patch.Append("/spec/volumes", volumes,
               {{"name", kTokenVolume},
                {"projected",
                 {{"sources",
                   {{{"serviceAccountToken",
                      {{"audience", "agentbudget"}, {"expirationSeconds", 3600}, {"path", "token"}}}}}}}}});
  patch.Add("/spec/volumes/-", {{"name", kSpoolVolume}, {"emptyDir", {{"sizeLimit", "64Mi"}}}});
  if (w.key_custody()) {
    patch.Add("/spec/volumes/-", {{"name", kCredentialsVolume},
                                  {"secret", {{"secretName", w.credentials_secret},
                                              {"defaultMode", 0444},
                                              {"optional", false}}}});
  }
  PatchAgentEnv(spec, context, meter, patch);
  if (!OwnedByJob(pod, nullptr)) {
    patch.Append("/spec/schedulingGates", core::Member(spec, {"schedulingGates"}),
                 {{"name", v1alpha1::keys::kSchedulingGate}});
  }
  Attribution a = AttributionFor(pod, context, /*include_run=*/true);
  a.annotations[v1alpha1::keys::kInjected] = InjectedRecord("Pod", context, meter.image);
  patch.SetMembers("/metadata/labels", core::Member(pod, {"metadata", "labels"}), a.labels);
  patch.SetMembers("/metadata/annotations", core::Member(pod, {"metadata", "annotations"}),
                   a.annotations);
  return patch.ops();
}

nlohmann::json MutateJob(const nlohmann::json& job, const AdmissionContext& context) {
  if (!job.is_object() || !NamespaceOptedIn(context.namespace_labels) ||
      context.workload == nullptr) {
    return nlohmann::json::array();
  }
  if (core::Member(job, {"metadata", "annotations", v1alpha1::keys::kInjected}).is_string()) {
    return nlohmann::json::array();
  }
  const nlohmann::json& spec = core::Member(job, {"spec"});
  if (!spec.is_object() || !core::Member(job, {"metadata"}).is_object() ||
      !core::Member(spec, {"template"}).is_object()) {
    return nlohmann::json::array();
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
  Attribution a = AttributionFor(job, context, /*include_run=*/false);
  // The template gets the attribution too, so the Job's pods are selected and stamped the
  // same way; their run is the Job's UID, set when each pod is admitted.
  const nlohmann::json& template_meta = core::Member(spec, {"template", "metadata"});
  if (!template_meta.is_object()) {
    patch.Add("/spec/template/metadata",
              {{"labels", a.labels}, {"annotations", a.annotations}});
  } else {
    patch.SetMembers("/spec/template/metadata/labels", core::Member(template_meta, {"labels"}),
                     a.labels);
    patch.SetMembers("/spec/template/metadata/annotations",
                     core::Member(template_meta, {"annotations"}), a.annotations);
  }
  a.annotations[v1alpha1::keys::kInjected] = InjectedRecord("Job", context, "");
  a.annotations[v1alpha1::keys::kQueue] =
      nlohmann::json{{"state", "Pending"}, {"reason", "AwaitingAdmission"}}.dump();
  patch.SetMembers("/metadata/labels", core::Member(job, {"metadata", "labels"}), a.labels);
  patch.SetMembers("/metadata/annotations", core::Member(job, {"metadata", "annotations"}),
                   a.annotations);
  return patch.ops();
}

}  // namespace agentbudget::webhook
