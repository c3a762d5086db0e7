// Feeds arbitrary bytes through the webhook's untrusted-input path: AdmissionReview
// decoding, context building from the object's labels, pod and Job mutation, validation,
// and response encoding. Beyond "no crash", it checks two properties on every input that
// decodes: the patch applies to the object it was built from, and re-admitting the patched
// object produces no patch (idempotent injection).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "webhook/admission_review.h"
#include "webhook/mutation.h"
#include "webhook/validation.h"
#include "api/v1alpha1/agent_workload.h"
#include "api/v1alpha1/labels.h"

namespace {

using agentbudget::webhook::AdmissionContext;
using agentbudget::v1alpha1::Workload;

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
          {"meter", {{"credentialsSecretRef", {{"name", "keys"}}}}}}}};
    return agentbudget::v1alpha1::ParseWorkload(object).value();
  }();
  return workload;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace wh = agentbudget::webhook;
  namespace v1 = agentbudget::v1alpha1;
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto request = wh::DecodeAdmissionReview(body);
  if (!request.ok()) {
    (void)wh::EncodeAdmissionReview("", wh::AdmissionDecision::Deny(400, request.error().message));
    return 0;
  }
  AdmissionContext context;
  context.namespace_name = request->namespace_name;
  context.namespace_labels = {{"agentbudget.io/inject", "enabled"},
                              {"agentbudget.io/team", "t"}};
  std::vector<Workload> workloads = {FuzzWorkload()};
  context.workload = v1::SelectWorkload(v1::LabelsOf(request->object), workloads);
  context.run = request->uid;
  context.username = request->username;
  wh::MeterSettings meter;
  const bool is_job = request->kind == "Job";
  nlohmann::json patch = is_job ? wh::MutateJob(request->object, context)
                                : wh::MutatePod(request->object, context, meter);
  wh::AdmissionDecision decision;
  decision.patch = patch;
  (void)wh::EncodeAdmissionReview(request->uid, decision);
  (void)wh::ValidatePod(request->object, context);
  (void)wh::ValidateJob(request->object, context);
  (void)wh::ValidateAgentWorkload(request->object);
  (void)wh::ValidateAgentBudget(request->object);
  if (patch.empty()) {
    return 0;
  }
  nlohmann::json patched;
  try {
    patched = request->object.patch(patch);
  } catch (const nlohmann::json::exception&) {
    std::abort();  // a patch that does not apply to its own object is a bug
  }
  nlohmann::json again = is_job ? wh::MutateJob(patched, context)
                                : wh::MutatePod(patched, context, meter);
  if (!again.empty()) {
    std::abort();  // injection must be idempotent
  }
  return 0;
}
