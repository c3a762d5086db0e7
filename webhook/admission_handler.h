#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "common/clock.h"
#include "common/http_server.h"
#include "common/result.h"
#include "core/label_selector.h"
#include "webhook/access_policy.h"
#include "webhook/admission_context.h"
#include "webhook/admission_review.h"
#include "webhook/cluster_cache.h"
#include "webhook/fanout_counter.h"
#include "webhook/metrics.h"
#include "webhook/mutation.h"
#include "webhook/update_rules.h"

namespace agentbudget::webhook {

// Pod `name` in namespace `ns` as the API server has it (the pod that created a subagent,
// found from the request's service-account token claims); kNotFound when it does not exist.
using PodLookup =
    std::function<Result<nlohmann::json>(const std::string& ns, const std::string& name)>;

// Told of each subagent denied at creation by the fan-out cap of AgentWorkload `name` in
// namespace `ns` (never for dryRun requests). Called on the admission path: must not block.
using RejectionSink = std::function<void(const std::string& ns, const std::string& name)>;

// The PEM meters trust for the budget authority as of now ("" for none): read on every
// governed admission, so it must answer from memory or a cheap check.
using AuthorityCaSource = std::function<std::string()>;

// Turns AdmissionReview requests into answers: decodes, builds the context from the cache
// (namespace labels, governing workload, run) and from who asks (`policy`: the requester's
// standing decides where user and parent run come from, whether a Job-owned pod is
// allowed, whether the UPDATE rules apply), applies the pure rules, and for subagents with
// onLimit Reject claims a fan-out slot from the counter (validation only, never on dryRun),
// telling `rejections` (when set) of each subagent the cap denies. Approvals get their time
// from `clock`; meters their authority CA from `authority_ca` (when set).
// Thread-safe; the references must outlive the handler.
class AdmissionHandler {
 public:
  AdmissionHandler(const ClusterCache& cache, FanoutCounter& fanout, PodLookup pods,
                   MeterSettings meter, WebhookMetrics& metrics,
                   RejectionSink rejections = nullptr, AccessPolicy policy = {},
                   AuthorityCaSource authority_ca = nullptr,
                   const Clock& clock = SystemClock::Instance());

  // POST /mutate: for Pods and Jobs, the injection patch (or a refusal) on CREATE and the
  // approval rewrite on UPDATE (never for --operator-users); everything else allowed
  // unchanged. POST /validate: the CREATE and UPDATE rules for Pods and Jobs (UPDATE and
  // pods/ephemeralcontainers: everyone but --operator-users), the checks of AgentWorkloads
  // and AgentBudgets. Bad requests (wrong method or content type, undecodable review) get an
  // HTTP 400/415 with an error body, which the API server reports per failurePolicy.
  http::Response Mutate(const http::Request& request);
  http::Response Validate(const http::Request& request);

  // The same on an already-decoded request (for benchmarks and the fuzz target).
  // `received`: when the request arrived; fan-out claims answer within their budget from it.
  AdmissionDecision DecideMutation(const AdmissionRequest& request);
  AdmissionDecision DecideValidation(
      const AdmissionRequest& request,
      std::chrono::steady_clock::time_point received = std::chrono::steady_clock::now());

 private:
  // The parent run's side of a subagent.
  struct Parent {
    const v1alpha1::Workload* workload = nullptr;  // whose fan-out cap applies
    nlohmann::json owner;  // the parent run's Job or Pod as an ownerReference, or null
  };
  // Fills namespace labels, workload, run, user, parent run and the requester's standing
  // for a CREATE, and `parent`. Fails when the namespace is not in the cache or the
  // creating pod cannot be looked up.
  Result<AdmissionContext> ContextFor(const AdmissionRequest& request,
                                      ClusterCache::WorkloadList& workloads, Parent& parent);
  // The UPDATE rules' context; `workloads` keeps the governing workload alive.
  UpdateContext UpdateContextFor(const AdmissionRequest& request,
                                 ClusterCache::WorkloadList& workloads) const;
  AdmissionDecision DecideUpdate(const AdmissionRequest& request) const;
  // The meter settings with the authority CA as of now.
  MeterSettings CurrentMeter() const;
  bool IsOperator(const AdmissionRequest& request) const;
  http::Response Serve(const http::Request& request, bool mutate);

  const ClusterCache& cache_;
  FanoutCounter& fanout_;
  const PodLookup pods_;
  const MeterSettings meter_;
  WebhookMetrics& metrics_;
  const RejectionSink rejections_;
  const AccessPolicy policy_;
  const AuthorityCaSource authority_ca_;
  const Clock& clock_;
};

// The pod that made the request, from a bound service-account token's userInfo.extra
// ("authentication.kubernetes.io/pod-name" and "-uid"), with its namespace from the
// username "system:serviceaccount:<ns>:<sa>". Empty name when the requester is no pod.
struct RequestingPod {
  std::string namespace_name;
  std::string name;
  std::string uid;  // "" when the token does not say
};
RequestingPod RequestingPodOf(const AdmissionRequest& request);

}  // namespace agentbudget::webhook
