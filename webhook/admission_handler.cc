#include "webhook/admission_handler.h"

#include <chrono>
#include <utility>

#include "common/log.h"
#include "webhook/validation.h"
#include "core/json_field.h"

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
  const nlohmann::json& names = core::Member(request.user_extra, {"authentication.kubernetes.io/pod-name"});
  if (names.is_array() && !names.empty() && names[0].is_string()) {
    out.name = names[0].get<std::string>();
  }
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
                                   WebhookMetrics& metrics, RejectionSink rejections)
    : cache_(cache),
      fanout_(fanout),
      pods_(std::move(pods)),
      meter_(std::move(meter)),
      metrics_(metrics),
      rejections_(std::move(rejections)) {}

Result<AdmissionContext> AdmissionHandler::ContextFor(const AdmissionRequest& request,
                                                      ClusterCache::WorkloadList& workloads,
                                                      Parent& parent) {
  AdmissionContext context;
  context.namespace_name = request.namespace_name;
  context.username = request.username;
  auto labels = cache_.NamespaceLabels(request.namespace_name);
  if (!labels.ok()) {
    return std::move(labels).error();
  }
  context.namespace_labels = std::move(labels).value();
  if (!NamespaceOptedIn(context.namespace_labels)) {
    return context;
  }
  workloads = cache_.Workloads(request.namespace_name);
  const core::Labels object_labels = v1alpha1::LabelsOf(request.object);
  context.workload = v1alpha1::SelectWorkload(object_labels, *workloads);
  if (context.workload == nullptr) {
    return context;
  }
  // Run: a Job's pods belong to the Job's run; a bare pod is a run of its own, named by
  // this request's UID (its own UID is not assigned yet at admission).
  std::string job_uid;
  if (request.kind == "Pod" && OwnedByJob(request.object, &job_uid) && !job_uid.empty()) {
    context.run = job_uid;
  } else if (request.kind == "Pod") {
    context.run = request.uid;
  }
  // Parent run: the creating pod's run (from token claims, which the pod cannot forge)
  // wins over the agentbudget.io/parent-run label.
  parent.workload = context.workload;
  RequestingPod creator = RequestingPodOf(request);
  if (!creator.name.empty() && pods_) {
    auto creator_pod = pods_(creator.namespace_name, creator.name);
    if (creator_pod.ok()) {
      const core::Labels creator_labels = v1alpha1::LabelsOf(*creator_pod);
      auto run = creator_labels.find(v1alpha1::keys::kRun);
      if (run != creator_labels.end()) {
        context.parent_run = run->second;
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
    } else if (creator_pod.error().code != ErrorCode::kNotFound) {
      return std::move(creator_pod).error();
    }
  }
  if (context.parent_run.empty()) {
    auto label = object_labels.find(v1alpha1::keys::kParentRun);
    if (label != object_labels.end()) {
      context.parent_run = label->second;
    }
  }
  return context;
}

AdmissionDecision AdmissionHandler::DecideMutation(const AdmissionRequest& request) {
  if (request.operation != "CREATE" || !IsGovernedKind(request) || !request.subresource.empty()) {
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
  AdmissionDecision d = AdmissionDecision::Allow();
  d.patch = request.kind == "Pod" ? MutatePod(request.object, *context, meter_)
                                  : MutateJob(request.object, *context);
  return d;
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
  if (request.operation != "CREATE" || !IsGovernedKind(request) || !request.subresource.empty()) {
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
  AdmissionDecision d = request.kind == "Pod" ? ValidatePod(request.object, *context)
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
                                   {"namespace", request->namespace_name},
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
