// Feeds arbitrary bytes through the webhook's untrusted-input path: AdmissionReview
// decoding, context building from the object's labels, pod and Job mutation, the CREATE and
// UPDATE validation rules, approvals, and response encoding. Beyond "no crash", it checks
// two properties on every input that decodes: a patch applies to the object it was built
// from, and validation finds in a mutated object exactly what the mutation computes (no
// reserved-name, meter-missing, admission-gate or system-metadata refusal of the webhook's
// own work), whatever the object carried.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/v1alpha1/agent_workload.h"
#include "api/v1alpha1/labels.h"
#include "webhook/admission_review.h"
#include "webhook/approvals.h"
#include "webhook/attribution.h"
#include "webhook/mutation.h"
#include "webhook/update_rules.h"
#include "webhook/validation.h"

namespace {

using agentbudget::v1alpha1::Workload;
using agentbudget::webhook::AdmissionContext;
using agentbudget::webhook::AdmissionDecision;

const Workload& FuzzWorkload() {
  static const Workload workload = [] {
    nlohmann::json object = {
        {"metadata", {{"name", "fuzz"}, {"namespace", "ns"}}},
        {"spec",
         {{"selector", {{"matchExpressions", {{{"key", "app"}, {"operator", "Exists"}}}}}},
          {"class", "AutonomousBounded"},
          {"attribution", {{"workflow", "w"}, {"repo", "a/b"}, {"tags", {{"k", "v"}}}}},
          {"models", {{"allowed", {"m1"}}}},
          {"perRun", {{"maxRuntime", "1h"}, {"maxSubagents", 3}}},
          {"approval", {{"approvers", {{"users", {"u"}}, {"groups", {"g"}}}}}},
          {"meter", {{"credentialsSecretRef", {{"name", "keys"}}}}}}}};
    return agentbudget::v1alpha1::ParseWorkload(object).value();
  }();
  return workload;
}

// The rules that judge whether validation found the mutation's own work.
bool RefusesTheWebhooksOwnWork(const AdmissionDecision& d) {
  return !d.allowed && (d.rule == "reserved-name" || d.rule == "meter-missing" ||
                        d.rule == "admission-gate" || d.rule == "system-metadata");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace wh = agentbudget::webhook;
  namespace v1 = agentbudget::v1alpha1;
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto request = wh::DecodeAdmissionReview(body);
  if (!request.ok()) {
    (void)wh::EncodeAdmissionReview("", AdmissionDecision::Deny(400, request.error().message));
    return 0;
  }
  std::vector<Workload> workloads = {FuzzWorkload()};
  const bool is_job = request->kind == "Job";

  // UPDATE rules and approvals over an arbitrary stored object and update.
  wh::UpdateContext update;
  update.namespace_name = request->namespace_name;
  update.username = request->username;
  update.groups = request->groups;
  update.workload = v1::SelectWorkload(v1::LabelsOf(request->old_object), workloads);
  (void)wh::ValidatePodUpdate(request->old_object, request->object, update);
  (void)wh::ValidateJobUpdate(request->old_object, request->object, update);
  (void)wh::ValidateEphemeralContainers(request->old_object, request->object, update);
  (void)wh::ApprovalViolation(request->old_object, request->object, request->username,
                              request->groups, update.workload);
  const nlohmann::json approval = wh::ApprovalPatch(
      request->old_object, request->object, request->username,
      agentbudget::core::SysSeconds(std::chrono::seconds(1'800'000'000)));
  if (!approval.empty()) {
    try {
      (void)request->object.patch(approval);
    } catch (const nlohmann::json::exception&) {
      std::abort();  // an approval patch that does not apply to its own object is a bug
    }
  }

  // CREATE: mutation, then validation of what the mutation made.
  AdmissionContext context;
  context.namespace_name = request->namespace_name;
  context.namespace_labels = {{"agentbudget.io/inject", "enabled"}, {"agentbudget.io/team", "t"}};
  context.workload = v1::SelectWorkload(v1::LabelsOf(request->object), workloads);
  context.run = "fuzz-run";  // a bare pod's run is the mutation's request UID
  context.job_controller = request->username == "job-controller";
  wh::AttributionSource source;
  source.username = request->username;
  source.trusted_creator = request->username == "ci";
  const wh::UserAndParent resolved = wh::ResolveUserAndParent(request->object, source);
  context.user = resolved.user;
  context.parent_run = resolved.parent_run;
  wh::MeterSettings meter;
  const AdmissionDecision mutation = is_job ? wh::MutateJob(request->object, context)
                                            : wh::MutatePod(request->object, context, meter);
  (void)wh::EncodeAdmissionReview(request->uid, mutation);
  (void)wh::ValidatePod(request->object, context, meter);
  (void)wh::ValidateJob(request->object, context);
  (void)wh::ValidateAgentWorkload(request->object);
  (void)wh::ValidateAgentBudget(request->object);
  if (!mutation.allowed || mutation.patch.empty()) {
    return 0;
  }
  nlohmann::json patched;
  try {
    patched = request->object.patch(mutation.patch);
  } catch (const nlohmann::json::exception&) {
    std::abort();  // a patch that does not apply to its own object is a bug
  }
  const AdmissionDecision validation =
      is_job ? wh::ValidateJob(patched, context) : wh::ValidatePod(patched, context, meter);
  if (RefusesTheWebhooksOwnWork(validation)) {
    std::abort();  // validation must find exactly what the mutation computes
  }
  return 0;
}
