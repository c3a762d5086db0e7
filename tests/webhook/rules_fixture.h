#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "api/v1alpha1/agent_workload.h"
#include "webhook/mutation.h"

namespace agentbudget::webhook::testing {

// An opted-in namespace "payments" of team payments, an AgentWorkload "pr-review" selecting
// agentbudget.io/workload=pr-review, and a bare agent pod it governs.
inline nlohmann::json WorkloadJson() {
  return {{"metadata", {{"name", "pr-review"}, {"namespace", "payments"}}},
          {"spec",
           {{"selector", {{"matchLabels", {{"agentbudget.io/workload", "pr-review"}}}}},
            {"class", "AutonomousBounded"},
            {"priority", "ReleaseBlocking"},
            {"attribution",
             {{"workflow", "pr-review"},
              {"repo", "acme/payments"},
              {"environment", "ci"},
              {"tags", {{"tier", "gold"}}}}},
            {"models", {{"allowed", {"claude-sonnet-4-5", "claude-haiku-4-5"}}}},
            {"perRun", {{"maxRuntime", "1h"}, {"maxCost", "2.50"}, {"maxSubagents", 20}}},
            {"perRequest", {{"maxTokens", 16000}, {"maxCost", "0.50"}, {"onExceed", "Clamp"}}},
            {"onLimit", "Reject"},
            {"meter", {{"credentialsSecretRef", {{"name", "llm-keys"}}}}}}}};
}

inline nlohmann::json AgentPod() {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", "agent-1"},
            {"namespace", "payments"},
            {"labels", {{"agentbudget.io/workload", "pr-review"}, {"agentbudget.io/team", "evil"}}}}},
          {"spec",
           {{"containers",
             {{{"name", "agent"},
               {"image", "agent:1"},
               {"env", {{{"name", "ANTHROPIC_MODEL"}, {"value", "claude-sonnet-4-5"}}}}}}}}}};
}

inline nlohmann::json AgentJob() {
  return {{"apiVersion", "batch/v1"},
          {"kind", "Job"},
          {"metadata",
           {{"name", "review-42"},
            {"namespace", "payments"},
            {"labels", {{"agentbudget.io/workload", "pr-review"}}}}},
          {"spec",
           {{"template",
             {{"metadata", {{"labels", {{"agentbudget.io/workload", "pr-review"}}}}},
              {"spec",
               {{"restartPolicy", "Never"},
                {"containers", {{{"name", "agent"}, {"image", "agent:1"}}}}}}}}}}};
}

// The item of `pod_spec[list]` ("initContainers", "volumes", ...) named `name`, or nullptr.
inline const nlohmann::json* Named(const nlohmann::json& pod_spec, const char* list,
                                   const std::string& name) {
  if (!pod_spec.contains(list)) {
    return nullptr;
  }
  for (const nlohmann::json& item : pod_spec[list]) {
    if (item.value("name", "") == name) {
      return &item;
    }
  }
  return nullptr;
}

class RulesFixture {
 public:
  RulesFixture() {
    workload_ = v1alpha1::ParseWorkload(WorkloadJson()).value();
    context_.namespace_name = "payments";
    context_.namespace_labels = {{"agentbudget.io/inject", "enabled"},
                                 {"agentbudget.io/team", "payments"},
                                 {"agentbudget.io/cost-center", "cc-4021"}};
    context_.workload = &workload_;
    context_.run = "run-uid-1";
    context_.user = "system:serviceaccount:ci:runner";
    context_.job_controller = false;
    meter_.authority_url = "https://127.0.0.1:8443";
  }

 protected:
  // The pod or Job as the mutating webhook leaves it. REQUIRES: the mutation allows it.
  nlohmann::json InjectedPod(const nlohmann::json& pod) const {
    return pod.patch(MutatePod(pod, context_, meter_).patch);
  }
  nlohmann::json InjectedJob(const nlohmann::json& job) const {
    return job.patch(MutateJob(job, context_).patch);
  }

  v1alpha1::Workload workload_;
  AdmissionContext context_;
  MeterSettings meter_;
};

}  // namespace agentbudget::webhook::testing
