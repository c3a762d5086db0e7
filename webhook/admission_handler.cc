#include "webhook/admission_handler.h"

#include <chrono>
#include <utility>

#include "common/log.h"
#include "core/json_field.h"
#include "webhook/approvals.h"
#include "webhook/attribution.h"
#include "webhook/validation.h"

namespace agentbudget::webhook {
namespace {

bool IsGovernedKind(const AdmissionRequest& r) {
  return (r.kind == "Pod" && r.kind_group.empty()) || (r.kind == "Job" && r.kind_group == "batch");
}

// The run a creating pod belongs to, as an ownerReference: its Job when a Job controls it
// (the Job's UID is the run), else the pod itself; null when the names or UIDs are missing.
nlohmann::json RunOwnerOf(const nlohmann::json& pod) {
  nlohmann::json owner = {{"apiVersion", "v1"},
                          {"kind", "Pod"},
                          {"name", core::StringField(core::Member(pod, {"metadata"}), "name")},
                          {"uid", core::StringField(core::Member(pod, {"metadata"}), "uid")}};
  const nlohmann::json& owners = core::Member(pod, {"metadata", "ownerReferences"});
  for (size_t i = 0; owners.is_array() && i < owners.size(); ++i) {
    const nlohmann::json& controller = core::Member(owners[i], {"controller"});
    if (core::StringField(owners[i], "kind") == "Job" && controller.is_boolean() &&
        controller.get<bool>()) {
      owner = {{"apiVersion", "batch/v1"},
               {"kind", "Job"},
               {"name", core::StringField(owners[i], "name")},
               {"uid", core::StringField(owners[i], "uid")}};
    }
  }
  if (owner["name"].get<std::string>().empty() || owner["uid"].get<std::string>().empty()) {
    return nullptr;
  }
  return owner;
}

http::Response BadRequest(int status, const std::string& message) {
  return http::Response::Json(
      status, {{"error", {{"code", "invalid_argument"}, {"message", message}}}});
}

}  // namespace

RequestingPod RequestingPodOf(const AdmissionRequest& request) {
  RequestingPod out;
  auto first = [&request](const char* key) {
    const nlohmann::json& values = core::Member(request.user_extra, {key});
    return values.is_array() && !values.empty() && values[0].is_string()
               ? values[0].get<std::string>()
               : std::string();
  };
  out.name = first("authentication.kubernetes.io/pod-name");
  out.uid = first("authentication.kubernetes.io/pod-uid");
  constexpr std::string_view kPrefix = "system:serviceaccount:";
  if (request.username.rfind(kPrefix, 0) == 0) {
    std::string rest = request.username.substr(kPrefix.size());
    out.namespace_name = rest.substr(0, rest.find(':'));
  }
  if (out.namespace_name.empty()) {
    out.name.clear();
  }
  return out;
}

AdmissionHandler::AdmissionHandler(const ClusterCache& cache, FanoutCounter& fanout,
                                   PodLookup pods, MeterSettings meter,
                                   WebhookMetrics& metrics, RejectionSink rejections,
                                   AccessPolicy policy, AuthorityCaSource authority_ca,
                                   const Clock& clock)
    : cache_(cache),
      fanout_(fanout),
      pods_(std::move(pods)),
      meter_(std::move(meter)),
      metrics_(metrics),
      rejections_(std::move(rejections)),
      policy_(std::move(policy)),
      authority_ca_(std::move(authority_ca)),
      clock_(clock) {}

bool AdmissionHandler::IsOperator(const AdmissionRequest& request) const {
  return policy_.operator_users.Includes(request.username, request.groups);
}

MeterSettings AdmissionHandler::CurrentMeter() const {
  MeterSettings meter = meter_;
  if (authority_ca_) {
    meter.authority_ca = authority_ca_();
  }
  return meter;
}

Result<AdmissionContext> AdmissionHandler::ContextFor(const AdmissionRequest& request,
                                                      ClusterCache::WorkloadList& workloads,
                                                      Parent& parent) {
  AdmissionContext context;
  context.namespace_name = request.namespace_name;
  context.job_controller = policy_.job_controller_users.Includes(request.username, request.groups);
  context.allowed_features = policy_.allowed_features;
  auto labels = cache_.NamespaceLabels(request.namespace_name);
  if (!labels.ok()) {
    return std::move(labels).error();
  }
  context.namespace_labels = std::move(labels).value();
  if (!NamespaceOptedIn(context.namespace_labels)) {
    return context;
  }
  workloads = cache_.Workloads(request.namespace_name);
  context.workload = v1alpha1::SelectWorkload(v1alpha1::LabelsOf(request.object), *workloads);
  if (context.workload == nullptr) {
    return context;
  }
  // Run: a Job's pods belong to the Job's run; a bare pod is a run of its own, named by
  // this request's UID (its own UID is not assigned yet at admission).
  std::string job_uid;
  const bool job_pod =
      request.kind == "Pod" && OwnedByJob(request.object, &job_uid) && !job_uid.empty();
  if (job_pod) {
    context.run = job_uid;
  } else if (request.kind == "Pod") {
    context.run = request.uid;
  }
  // The creating pod's run, from its token claims (which the pod cannot forge).
  parent.workload = context.workload;
  AttributionSource source;
  source.username = request.username;
  source.job_controller_pod = job_pod && context.job_controller;
  source.trusted_creator = policy_.trusted_creators.Includes(request.username, request.groups);
  RequestingPod creator = RequestingPodOf(request);
  if (!creator.name.empty() && pods_) {
    auto creator_pod = pods_(creator.namespace_name, creator.name);
    const bool same_pod =
        creator_pod.ok() &&
        (creator.uid.empty() ||
         core::StringField(core::Member(*creator_pod, {"metadata"}), "uid") == creator.uid);
    if (same_pod) {
      const core::Labels creator_labels = v1alpha1::LabelsOf(*creator_pod);
      auto run = creator_labels.find(v1alpha1::keys::kRun);
      if (run != creator_labels.end()) {
        source.creating_pod_run = run->second;
        parent.owner = RunOwnerOf(*creator_pod);
        auto creator_workload = creator_labels.find(v1alpha1::keys::kWorkload);
        if (creator_workload != creator_labels.end()) {
          for (const v1alpha1::Workload& w : *workloads) {
            if (w.name == creator_workload->second) {
              parent.workload = &w;
            }
          }
        }
      }
    } else if (!creator_pod.ok() && creator_pod.error().code != ErrorCode::kNotFound) {
      return std::move(creator_pod).error();
    }
  }
  UserAndParent resolved = ResolveUserAndParent(request.object, source);
  context.user = std::move(resolved.user);
  context.parent_run = std::move(resolved.parent_run);
  return context;
}

UpdateContext AdmissionHandler::UpdateContextFor(const AdmissionRequest& request,
                                                 ClusterCache::WorkloadList& workloads) const {
  UpdateContext context;
  context.namespace_name = request.namespace_name;
  context.username = request.username;
  context.groups = request.groups;
  context.allowed_features = policy_.allowed_features;
  workloads = cache_.Workloads(request.namespace_name);
  const core::Labels labels = v1alpha1::LabelsOf(request.old_object);
  if (auto named = labels.find(v1alpha1::keys::kWorkload); named != labels.end()) {
    for (const v1alpha1::Workload& w : *workloads) {
      if (w.name == named->second) {
        context.workload = &w;
      }
    }
  }
  if (context.workload == nullptr) {
    context.workload = v1alpha1::SelectWorkload(labels, *workloads);
  }
  return context;
}

AdmissionDecision AdmissionHandler::DecideUpdate(const AdmissionRequest& request) const {
  if (IsOperator(request)) {
    return AdmissionDecision::Allow();
  }
  ClusterCache::WorkloadList workloads;
  const UpdateContext context = UpdateContextFor(request, workloads);
  if (request.kind == "Pod" && request.subresource == "ephemeralcontainers") {
    return ValidateEphemeralContainers(request.old_object, request.object, context);
  }
  if (!request.subresource.empty()) {
    return AdmissionDecision::Allow();
  }
  return request.kind == "Pod" ? ValidatePodUpdate(request.old_object, request.object, context)
                               : ValidateJobUpdate(request.old_object, request.object, context);
}

AdmissionDecision AdmissionHandler::DecideMutation(const AdmissionRequest& request) {
  if (!IsGovernedKind(request) || !request.subresource.empty()) {
    return AdmissionDecision::Allow();
  }
  if (request.operation == "UPDATE") {
    AdmissionDecision d = AdmissionDecision::Allow();
    if (!IsOperator(request)) {
      d.patch = ApprovalPatch(request.old_object, request.object, request.username,
                              std::chrono::floor<std::chrono::seconds>(clock_.Now()));
    }
    return d;
  }
  if (request.operation != "CREATE") {
    return AdmissionDecision::Allow();
  }
  ClusterCache::WorkloadList workloads;
  Parent parent;
  auto context = ContextFor(request, workloads, parent);
  if (!context.ok()) {
    // Mutation fails open (failurePolicy Ignore semantics); validation catches what matters.
    AdmissionDecision d = AdmissionDecision::Allow();
    d.warnings.push_back("agentbudget: not injected: " + context.error().message);
    return d;
  }
  return request.kind == "Pod" ? MutatePod(request.object, *context, CurrentMeter())
                               : MutateJob(request.object, *context);
}

AdmissionDecision AdmissionHandler::DecideValidation(
    const AdmissionRequest& request, std::chrono::steady_clock::time_point received) {
  if (request.kind == "AgentWorkload" && request.kind_group == "agentbudget.io") {
    return request.operation == "CREATE" || request.operation == "UPDATE"
               ? ValidateAgentWorkload(request.object)
               : AdmissionDecision::Allow();
  }
  if (request.kind == "AgentBudget" && request.kind_group == "agentbudget.io") {
    return request.operation == "CREATE" || request.operation == "UPDATE"
               ? ValidateAgentBudget(request.object)
               : AdmissionDecision::Allow();
  }
  if (!IsGovernedKind(request)) {
    return AdmissionDecision::Allow();
  }
  if (request.operation == "UPDATE") {
    return DecideUpdate(request);
  }
  if (request.operation != "CREATE" || !request.subresource.empty()) {
    return AdmissionDecision::Allow();
  }
  ClusterCache::WorkloadList workloads;
  Parent parent;
  auto context = ContextFor(request, workloads, parent);
  if (!context.ok()) {
    return AdmissionDecision::Deny(
        503, "agentbudget cannot judge this request yet: " + context.error().message,
        "ServiceUnavailable");
  }
  AdmissionDecision d = request.kind == "Pod"
                            ? ValidatePod(request.object, *context, CurrentMeter())
                            : ValidateJob(request.object, *context);
  if (!d.allowed || context->workload == nullptr || context->parent_run.empty()) {
    return d;
  }
  // Fan-out: a Job's pods were counted with their Job.
  if (request.kind == "Pod" && OwnedByJob(request.object, nullptr)) {
    return d;
  }
  const v1alpha1::Workload& capped = *parent.workload;
  if (!capped.max_subagents || capped.on_limit != "Reject") {
    return d;
  }
  FanoutRequest fanout;
  fanout.namespace_name = request.namespace_name;
  fanout.parent_run = context->parent_run;
  fanout.cap = *capped.max_subagents;
  fanout.dry_run = request.dry_run;
  fanout.kind = request.kind;
  // Validation runs after the API server generated the name of a generateName object.
  fanout.name = core::StringField(core::Member(request.object, {"metadata"}), "name");
  if (fanout.name.empty()) {
    fanout.name = request.name;
  }
  fanout.claim_uid = request.uid;
  fanout.owner = std::move(parent.owner);
  fanout.received = received;
  auto claim = fanout_.Claim(fanout);
  if (!claim.ok()) {
    metrics_.CountError("fanout");
    return AdmissionDecision::Deny(
        503, "cannot count the subagents of run " + context->parent_run + ": " +
                 claim.error().message,
        "ServiceUnavailable");
  }
  if (!claim->admitted) {
    // The parent's workload is among the request namespace's workloads.
    if (rejections_ && !request.dry_run) {
      rejections_(request.namespace_name, capped.name);
    }
    return FanoutDenial(context->parent_run, claim->count, *capped.max_subagents, capped.name);
  }
  return d;
}

http::Response AdmissionHandler::Serve(const http::Request& http_request, bool mutate) {
  const auto start = std::chrono::steady_clock::now();
  const char* operation = mutate ? "mutate" : "validate";
  const std::string content_type = http_request.Header("Content-Type");
  if (content_type.rfind("application/json", 0) != 0) {
    metrics_.CountError("bad_request");
    return BadRequest(415, "Content-Type must be application/json, got \"" + content_type + "\"");
  }
  auto request = DecodeAdmissionReview(http_request.body);
  if (!request.ok()) {
    metrics_.CountError("bad_request");
    log::Warn("undecodable AdmissionReview", {{"error", request.error().message}});
    return BadRequest(400, "bad AdmissionReview: " + request.error().message);
  }
  AdmissionDecision decision;
  try {
    decision = mutate ? DecideMutation(*request) : DecideValidation(*request, start);
  } catch (const std::exception& e) {
    // nlohmann::json throws on type errors; the rules check types, this is the backstop.
    metrics_.CountError("internal");
    log::Error("admission rule failed", {{"uid", request->uid}, {"error", e.what()}});
    decision = AdmissionDecision::Deny(500, std::string("agentbudget webhook error: ") + e.what(),
                                       "InternalError");
  }
  std::string label = "allowed";
  if (!decision.allowed) {
    label = "denied";
    metrics_.CountDenial(request->kind);
    log::Info("admission denied", {{"uid", request->uid},
                                   {"kind", request->kind},
                                   {"operation", request->operation},
                                   {"namespace", request->namespace_name},
                                   {"user", request->username},
                                   {"rule", decision.rule},
                                   {"message", decision.message}});
  } else if (!decision.patch.empty()) {
    label = "patched";
    metrics_.CountPatch(request->kind);
  }
  http::Response response;
  response.headers["Content-Type"] = "application/json";
  response.body = EncodeAdmissionReview(request->uid, decision);
  metrics_.ObserveAdmission(operation, request->kind, label,
                            std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                                .count());
  return response;
}

http::Response AdmissionHandler::Mutate(const http::Request& request) {
  return Serve(request, /*mutate=*/true);
}

http::Response AdmissionHandler::Validate(const http::Request& request) {
  return Serve(request, /*mutate=*/false);
}

}  // namespace agentbudget::webhook
