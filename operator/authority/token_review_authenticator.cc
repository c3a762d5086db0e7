#include "operator/authority/token_review_authenticator.h"

#include <openssl/sha.h>

#include "api/v1alpha1/resources.h"
#include "core/money.h"

namespace agentbudget::authority {

namespace {

const kube::GroupVersionResource kTokenReviews{"authentication.k8s.io", "v1", "tokenreviews",
                                               false};

Error Unauthenticated(std::string message) {
  return MakeError(ErrorCode::kUnauthenticated, std::move(message));
}

std::string StringAt(const nlohmann::json& object, const char* pointer) {
  const auto path = nlohmann::json::json_pointer(pointer);
  if (!object.contains(path) || !object[path].is_string()) {
    return "";
  }
  return object[path].get<std::string>();
}

// The first value of userInfo.extra[key], or "".
std::string Extra(const nlohmann::json& user, const std::string& key) {
  if (!user.contains("extra") || !user["extra"].is_object() || !user["extra"].contains(key)) {
    return "";
  }
  const auto& values = user["extra"][key];
  if (!values.is_array() || values.empty() || !values[0].is_string()) {
    return "";
  }
  return values[0].get<std::string>();
}

core::Labels StringMap(const nlohmann::json& object, const char* pointer) {
  core::Labels labels;
  const auto path = nlohmann::json::json_pointer(pointer);
  if (!object.contains(path) || !object[path].is_object()) {
    return labels;
  }
  for (const auto& [key, value] : object[path].items()) {
    if (value.is_string()) {
      labels[key] = value.get<std::string>();
    }
  }
  return labels;
}

}  // namespace

Result<Caller> CallerFromObjects(const nlohmann::json& pod, const nlohmann::json& namespace_object,
                                 const nlohmann::json& workload) {
  const core::Labels labels = StringMap(pod, "/metadata/labels");
  const core::Labels annotations = StringMap(pod, "/metadata/annotations");
  Caller caller;
  caller.namespace_name = StringAt(pod, "/metadata/namespace");
  caller.pod = StringAt(pod, "/metadata/name");
  auto label = [&](const char* key) {
    auto found = labels.find(std::string("agentbudget.io/") + key);
    return found == labels.end() ? std::string() : found->second;
  };
  caller.run = label("run");
  if (caller.run.empty()) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "pod " + caller.namespace_name + "/" + caller.pod +
                         " is not a governed agent pod (no agentbudget.io/run label)");
  }
  caller.workload = label("workload");
  caller.namespace_labels = StringMap(namespace_object, "/metadata/labels");
  // team comes from the namespace, so a tenant cannot charge another team's budget.
  if (auto team = caller.namespace_labels.find("agentbudget.io/team");
      team != caller.namespace_labels.end()) {
    caller.attribution["team"] = team->second;
  }
  for (const char* key : {"workflow", "environment", "user", "workload"}) {
    if (std::string value = label(key); !value.empty()) {
      caller.attribution[key] = value;
    }
  }
  if (auto repo = annotations.find("agentbudget.io/repo"); repo != annotations.end()) {
    caller.attribution["repo"] = repo->second;
  }
  auto priority = core::ParseWorkPriority(label("priority"));
  caller.priority = priority.ok() ? *priority : core::WorkPriority::kStandard;
  if (workload.is_object()) {
    if (auto from_spec = core::ParseWorkPriority(StringAt(workload, "/spec/priority"));
        from_spec.ok() && label("priority").empty()) {
      caller.priority = *from_spec;
    }
    const auto fallback = nlohmann::json::json_pointer("/spec/models/fallback");
    if (workload.contains(fallback) && workload[fallback].is_array()) {
      for (const auto& model : workload[fallback]) {
        if (model.is_string()) {
          caller.fallback_models.push_back(model.get<std::string>());
        }
      }
    }
    if (StringAt(workload, "/spec/meter/keySource") == "Authority") {
      caller.key_source = KeySource::kAuthority;
    }
    const auto per_run = nlohmann::json::json_pointer("/spec/perRun");
    if (workload.contains(per_run) && workload[per_run].is_object()) {
      const auto& limits = workload[per_run];
      if (limits.contains("maxCost") && limits["maxCost"].is_string()) {
        if (auto cost = core::Money::Parse(limits["maxCost"].get<std::string>()); cost.ok()) {
          caller.run_limits.max_cost = *cost;
        }
      }
      for (auto [field, target] : {std::pair{"maxTokens", &caller.run_limits.max_tokens},
                                   std::pair{"maxRequests", &caller.run_limits.max_requests}}) {
        if (limits.contains(field) && limits[field].is_number_integer()) {
          *target = limits[field].get<int64_t>();
        }
      }
    }
  }
  return caller;
}

TokenReviewAuthenticator::TokenReviewAuthenticator(kube::Client& client, const Clock& clock,
                                                   Options options)
    : client_(client),
      clock_(clock),
      options_(std::move(options)),
      cache_(options_.ttl, options_.max_entries) {}

Result<Caller> TokenReviewAuthenticator::Authenticate(const std::string& token) {
  if (token.empty() || token.size() > 16384) {
    return Unauthenticated("bearer token missing or too long");
  }
  Digest digest;
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest.data());
  {
    MutexLock lock(mu_);
    if (auto cached = cache_.Get(digest, clock_.Monotonic())) {
      return std::move(*cached);
    }
  }
  auto caller = Review(token);
  if (!caller.ok()) {
    return caller;
  }
  MutexLock lock(mu_);
  cache_.Put(digest, *caller, clock_.Monotonic());
  return caller;
}

Result<Caller> TokenReviewAuthenticator::Review(const std::string& token) {
  const nlohmann::json review = {
      {"apiVersion", "authentication.k8s.io/v1"},
      {"kind", "TokenReview"},
      {"spec", {{"token", token}, {"audiences", {options_.audience}}}},
  };
  auto answer = client_.Create(kTokenReviews, "", review);
  if (!answer.ok()) {
    return Unavailable("TokenReview failed: " + answer.error().message);
  }
  const auto& status = (*answer).contains("status") ? (*answer)["status"] : nlohmann::json();
  if (!status.is_object() || !status.value("authenticated", false)) {
    return Unauthenticated("token rejected: " + status.value("error", std::string("not authenticated")));
  }
  const auto& audiences = status.contains("audiences") ? status["audiences"] : nlohmann::json();
  if (!audiences.is_array() ||
      std::find(audiences.begin(), audiences.end(), options_.audience) == audiences.end()) {
    return Unauthenticated("token is not for audience " + options_.audience);
  }
  const auto& user = status.contains("user") ? status["user"] : nlohmann::json();
  const std::string username = user.is_object() ? user.value("username", std::string()) : "";
  // system:serviceaccount:<namespace>:<name>
  constexpr std::string_view kPrefix = "system:serviceaccount:";
  if (username.rfind(kPrefix, 0) != 0) {
    return Unauthenticated("token does not belong to a ServiceAccount");
  }
  const std::string rest = username.substr(kPrefix.size());
  const std::string ns = rest.substr(0, rest.find(':'));
  const std::string pod_name = Extra(user, "authentication.kubernetes.io/pod-name");
  const std::string pod_uid = Extra(user, "authentication.kubernetes.io/pod-uid");
  if (ns.empty() || pod_name.empty()) {
    return Unauthenticated("token is not bound to a pod (use a projected ServiceAccount token)");
  }
  auto pod = Read(options_.pods, kube::resources::kPods, ns, pod_name);
  if (pod.ok() && StringAt(*pod, "/metadata/uid") != pod_uid) {
    // The cache may not have seen a replacement pod yet: the API decides.
    pod = client_.Get(kube::resources::kPods, ns, pod_name);
  }
  if (!pod.ok()) {
    if (pod.error().code == ErrorCode::kNotFound) {
      return Unauthenticated("the token's pod " + ns + "/" + pod_name + " no longer exists");
    }
    return Unavailable("reading pod " + ns + "/" + pod_name + ": " + pod.error().message);
  }
  if (StringAt(*pod, "/metadata/uid") != pod_uid) {
    return Unauthenticated("the token's pod " + ns + "/" + pod_name + " was replaced");
  }
  auto namespace_object = Read(options_.namespaces, kube::resources::kNamespaces, "", ns);
  if (!namespace_object.ok()) {
    return Unavailable("reading namespace " + ns + ": " + namespace_object.error().message);
  }
  nlohmann::json workload;
  const std::string workload_name = StringAt(*pod, "/metadata/labels/agentbudget.io~1workload");
  if (!workload_name.empty()) {
    auto found = Read(options_.workloads, v1alpha1::kAgentWorkloads, ns, workload_name);
    if (found.ok()) {
      workload = std::move(*found);
    } else if (found.error().code != ErrorCode::kNotFound) {
      return Unavailable("reading AgentWorkload " + ns + "/" + workload_name + ": " +
                         found.error().message);
    }
  }
  return CallerFromObjects(*pod, *namespace_object, workload);
}

Result<nlohmann::json> TokenReviewAuthenticator::Read(const kube::Informer* cache,
                                                     const kube::GroupVersionResource& gvr,
                                                     const std::string& ns,
                                                     const std::string& name) {
  if (cache != nullptr) {
    if (auto cached = cache->store().Get(gvr.namespaced ? ns + "/" + name : name)) {
      return std::move(*cached);
    }
  }
  return client_.Get(gvr, ns, name);
}

}  // namespace agentbudget::authority
