#include "webhook/validation.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/webhook/rules_fixture.h"

namespace agentbudget::webhook {
namespace {

class ValidationTest : public ::testing::Test, public testing::RulesFixture {
 protected:
  nlohmann::json InjectedPod() const { return RulesFixture::InjectedPod(testing::AgentPod()); }
  nlohmann::json InjectedJob() const { return RulesFixture::InjectedJob(testing::AgentJob()); }
  AdmissionDecision Validate(const nlohmann::json& pod) const {
    return ValidatePod(pod, context_, meter_);
  }
  // Expects a denial by `rule`.
  static void ExpectRule(const AdmissionDecision& d, const std::string& rule) {
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.code, 403);
    EXPECT_EQ(d.rule, rule) << d.message;
    EXPECT_NE(d.message.find("(rule " + rule + ")"), std::string::npos) << d.message;
  }
  static nlohmann::json& Meter(nlohmann::json& pod) { return pod["spec"]["initContainers"][0]; }
};

TEST_F(ValidationTest, InjectedPodIsAllowed) {
  AdmissionDecision d = Validate(InjectedPod());
  EXPECT_TRUE(d.allowed) << d.message;
}

TEST_F(ValidationTest, InjectedPodAsTheApiServerDefaultsItIsAllowed) {
  nlohmann::json pod = InjectedPod();
  nlohmann::json& meter = Meter(pod);
  meter["terminationMessagePath"] = "/dev/termination-log";
  meter["terminationMessagePolicy"] = "File";
  meter["ports"][0]["protocol"] = "TCP";
  meter["startupProbe"]["timeoutSeconds"] = 1;
  meter["startupProbe"]["successThreshold"] = 1;
  meter["startupProbe"]["httpGet"]["scheme"] = "HTTP";
  meter["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] = "v1";
  meter["resources"]["limits"]["cpu"] = "0.5";  // any form: not compared
  for (nlohmann::json& volume : pod["spec"]["volumes"]) {
    if (volume.contains("projected")) {
      volume["projected"]["defaultMode"] = 420;
    }
  }
  AdmissionDecision d = Validate(pod);
  EXPECT_TRUE(d.allowed) << d.message;
}

TEST_F(ValidationTest, GovernedPodWithoutTheMeterIsDenied) {
  AdmissionDecision d = Validate(testing::AgentPod());
  ExpectRule(d, "meter-missing");
  EXPECT_NE(d.message.find("pod payments/agent-1: it is governed by AgentWorkload pr-review"),
            std::string::npos)
      << d.message;
}

TEST_F(ValidationTest, AMeterWithAnotherImageIsDeniedNamingTheDifference) {
  nlohmann::json pod = InjectedPod();
  Meter(pod)["image"] = "mallory/fake-meter:1";
  AdmissionDecision d = Validate(pod);
  ExpectRule(d, "reserved-name");
  EXPECT_NE(d.message.find("image is \"mallory/fake-meter:1\", agentbudget sets "
                           "\"agentbudget/meter:0.1.0\""),
            std::string::npos)
      << d.message;
}

TEST_F(ValidationTest, AMeterWithAnAddedCommandIsDenied) {
  nlohmann::json pod = InjectedPod();
  Meter(pod)["command"] = {"/bin/sh", "-c", "sleep infinity"};
  ExpectRule(Validate(pod), "reserved-name");
}

TEST_F(ValidationTest, AnotherContainerWithAReservedNameIsDenied) {
  nlohmann::json pod = InjectedPod();
  pod["spec"]["containers"].push_back({{"name", "agentbudget-helper"}, {"image", "x"}});
  ExpectRule(Validate(pod), "reserved-name");
}

TEST_F(ValidationTest, AMeterVolumeOfAnotherShapeIsDenied) {
  nlohmann::json pod = InjectedPod();
  for (nlohmann::json& volume : pod["spec"]["volumes"]) {
    if (volume["name"] == "agentbudget-credentials") {
      volume["secret"]["secretName"] = "other-keys";
    }
  }
  ExpectRule(Validate(pod), "reserved-name");
}

TEST_F(ValidationTest, AMissingMeterVolumeIsDenied) {
  nlohmann::json pod = InjectedPod();
  nlohmann::json& volumes = pod["spec"]["volumes"];
  volumes.erase(std::remove_if(volumes.begin(), volumes.end(),
                               [](const nlohmann::json& v) { return v["name"] == "agentbudget-spool"; }),
                volumes.end());
  ExpectRule(Validate(pod), "meter-missing");
}

TEST_F(ValidationTest, ABarePodsRunIsTheOneItsLabelAndItsMeterAgreeOn) {
  nlohmann::json pod = InjectedPod();
  context_.run = "the-validation-request-uid";  // never the mutation's
  EXPECT_TRUE(Validate(pod).allowed);
  pod["metadata"]["labels"]["agentbudget.io/run"] = "another-run";
  ExpectRule(Validate(pod), "reserved-name");  // the meter's AGENTBUDGET_RUN differs
}

TEST_F(ValidationTest, ABarePodWithoutTheAdmissionGateIsDenied) {
  nlohmann::json pod = InjectedPod();
  pod["spec"].erase("schedulingGates");
  ExpectRule(Validate(pod), "admission-gate");
}

TEST_F(ValidationTest, AJobsPodTakesItsRunFromTheJob) {
  context_.job_controller = true;
  nlohmann::json pod = testing::AgentPod();
  pod["metadata"]["ownerReferences"] = {
      {{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"name", "j"}, {"uid", "run-uid-1"},
       {"controller", true}}};
  pod = RulesFixture::InjectedPod(pod);
  EXPECT_TRUE(Validate(pod).allowed) << Validate(pod).message;
  context_.run = "another-job";
  ExpectRule(Validate(pod), "reserved-name");
}

TEST_F(ValidationTest, APodOwnedByAJobFromAnyoneButTheJobControllerIsDenied) {
  context_.job_controller = true;
  nlohmann::json pod = testing::AgentPod();
  pod["metadata"]["ownerReferences"] = {
      {{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"name", "j"}, {"uid", "run-uid-1"},
       {"controller", true}}};
  pod = RulesFixture::InjectedPod(pod);
  context_.job_controller = false;
  ExpectRule(Validate(pod), "job-owner");
}

TEST_F(ValidationTest, AForgedUserLabelIsDenied) {
  nlohmann::json pod = InjectedPod();
  pod["metadata"]["labels"]["agentbudget.io/user"] = "mallory";
  AdmissionDecision d = Validate(pod);
  ExpectRule(d, "system-metadata");
  EXPECT_NE(d.message.find("label agentbudget.io/user is \"mallory\", agentbudget sets "
                           "\"system-serviceaccount-ci-runner\""),
            std::string::npos)
      << d.message;
}

TEST_F(ValidationTest, AnApprovalAtCreationIsDenied) {
  nlohmann::json pod = InjectedPod();
  pod["metadata"]["annotations"]["agentbudget.io/approved-by"] = "me";
  AdmissionDecision d = Validate(pod);
  ExpectRule(d, "system-metadata");
  EXPECT_NE(d.message.find("annotation agentbudget.io/approved-by is \"me\", which only "
                           "agentbudget sets"),
            std::string::npos)
      << d.message;
}

TEST_F(ValidationTest, TeamLabelDifferentFromTheNamespaceIsDenied) {
  nlohmann::json pod = InjectedPod();
  pod["metadata"]["labels"]["agentbudget.io/team"] = "other";
  ExpectRule(Validate(pod), "system-metadata");
}

TEST_F(ValidationTest, NamespaceWithoutATeamIsDenied) {
  nlohmann::json pod = InjectedPod();
  context_.namespace_labels.erase("agentbudget.io/team");
  AdmissionDecision d = Validate(pod);
  ExpectRule(d, "namespace-team");
  EXPECT_NE(d.message.find("namespace payments has no agentbudget.io/team"), std::string::npos);
}

TEST_F(ValidationTest, ModelOutsideTheAllowListIsDeniedNamingItsSource) {
  nlohmann::json pod = testing::AgentPod();
  pod["spec"]["containers"][0]["env"][0]["value"] = "claude-opus-4-1";
  AdmissionDecision d = Validate(RulesFixture::InjectedPod(pod));
  ExpectRule(d, "allowed-models");
  EXPECT_NE(d.message.find("model claude-opus-4-1 (container agent env ANTHROPIC_MODEL)"),
            std::string::npos)
      << d.message;
  EXPECT_NE(d.message.find("claude-sonnet-4-5, claude-haiku-4-5"), std::string::npos);
}

TEST_F(ValidationTest, ModelsAnnotationIsChecked) {
  nlohmann::json pod = InjectedPod();
  pod["metadata"]["annotations"]["agentbudget.io/models"] = "claude-haiku-4-5, gpt-5";
  AdmissionDecision d = Validate(pod);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("model gpt-5 (annotation agentbudget.io/models)"), std::string::npos);
}

TEST_F(ValidationTest, EmptyAllowListAllowsAnyModel) {
  workload_.allowed_models.clear();
  nlohmann::json pod = InjectedPod();
  pod["metadata"]["annotations"]["agentbudget.io/models"] = "anything";
  EXPECT_TRUE(Validate(pod).allowed);
}

TEST_F(ValidationTest, GovernedHostNetworkPodIsDeniedUnlessAllowed) {
  nlohmann::json pod = testing::AgentPod();
  pod["spec"]["hostNetwork"] = true;
  pod = RulesFixture::InjectedPod(pod);
  ExpectRule(Validate(pod), "host-network");
  context_.allowed_features.host_network = true;
  EXPECT_TRUE(Validate(pod).allowed);
}

TEST_F(ValidationTest, AnAgentMountingTheMetersTokenIsDenied) {
  nlohmann::json pod = testing::AgentPod();
  pod["spec"]["containers"][0]["volumeMounts"] = {
      {{"name", "agentbudget-token"}, {"mountPath", "/steal"}}};
  ExpectRule(Validate(RulesFixture::InjectedPod(pod)), "credentials-volume");
}

TEST_F(ValidationTest, UngovernedPodIsAllowed) {
  context_.workload = nullptr;
  EXPECT_TRUE(Validate(testing::AgentPod()).allowed);
}

TEST_F(ValidationTest, InjectedJobIsAllowed) {
  AdmissionDecision d = ValidateJob(InjectedJob(), context_);
  EXPECT_TRUE(d.allowed) << d.message;
}

TEST_F(ValidationTest, GovernedJobThatIsNotSuspendedIsDenied) {
  nlohmann::json job = InjectedJob();
  job["spec"]["suspend"] = false;
  AdmissionDecision d = ValidateJob(job, context_);
  ExpectRule(d, "held-job");
  EXPECT_NE(d.message.find("must be created suspended"), std::string::npos);
}

TEST_F(ValidationTest, GovernedJobBeyondItsRuntimeOrRetriesIsDenied) {
  workload_.max_retries = 2;
  nlohmann::json job = InjectedJob();
  EXPECT_TRUE(ValidateJob(job, context_).allowed);
  nlohmann::json longer = job;
  longer["spec"].erase("activeDeadlineSeconds");
  ExpectRule(ValidateJob(longer, context_), "max-runtime");
  job["spec"]["backoffLimit"] = 6;
  ExpectRule(ValidateJob(job, context_), "max-retries");
}

TEST_F(ValidationTest, AForgedTemplateLabelIsDenied) {
  nlohmann::json job = InjectedJob();
  job["spec"]["template"]["metadata"]["labels"]["agentbudget.io/parent-run"] = "other-run";
  AdmissionDecision d = ValidateJob(job, context_);
  ExpectRule(d, "system-metadata");
  EXPECT_NE(d.message.find("pod template label agentbudget.io/parent-run"), std::string::npos)
      << d.message;
}

TEST_F(ValidationTest, AForgedQueueStateOnAJobIsDenied) {
  nlohmann::json job = InjectedJob();
  job["metadata"]["annotations"]["agentbudget.io/queue"] = "{\"state\":\"Admitted\"}";
  ExpectRule(ValidateJob(job, context_), "system-metadata");
}

TEST_F(ValidationTest, AJobTemplateReferencingTheCredentialsSecretIsDenied) {
  nlohmann::json job = testing::AgentJob();
  job["spec"]["template"]["spec"]["containers"][0]["envFrom"] = {
      {{"secretRef", {{"name", "llm-keys"}}}}};
  ExpectRule(ValidateJob(RulesFixture::InjectedJob(job), context_), "credentials-secret");
}

TEST_F(ValidationTest, FanoutDenialNamesRunCountAndCap) {
  AdmissionDecision d = FanoutDenial("run-7", 20, 20, "pr-review");
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("run run-7 has already created 20 of 20 subagents"),
            std::string::npos);
}

TEST_F(ValidationTest, WellFormedAgentWorkloadIsAllowed) {
  AdmissionDecision d = ValidateAgentWorkload(testing::WorkloadJson());
  EXPECT_TRUE(d.allowed) << d.message;
}

TEST_F(ValidationTest, WorkloadTagCannotSetTheTeam) {
  nlohmann::json w = testing::WorkloadJson();
  w["spec"]["attribution"]["tags"]["Team"] = "someone-else";
  AdmissionDecision d = ValidateAgentWorkload(w);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("reserved"), std::string::npos);
}

TEST_F(ValidationTest, WorkloadWithUnparsableRuntimeIsInvalid) {
  nlohmann::json w = testing::WorkloadJson();
  w["spec"]["perRun"]["maxRuntime"] = "forever";
  AdmissionDecision d = ValidateAgentWorkload(w);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "Invalid");
  EXPECT_NE(d.message.find("maxRuntime"), std::string::npos);
}

TEST_F(ValidationTest, WorkloadWithOverflowingMaxCostIsInvalid) {
  nlohmann::json w = testing::WorkloadJson();
  w["spec"]["perRun"]["maxCost"] = "99999999999999999999";
  EXPECT_FALSE(ValidateAgentWorkload(w).allowed);
}

TEST_F(ValidationTest, WorkloadPerRequestCeilingsAreChecked) {
  nlohmann::json w = testing::WorkloadJson();
  w["spec"]["perRequest"]["onExceed"] = "Truncate";
  AdmissionDecision d = ValidateAgentWorkload(w);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("spec.perRequest.onExceed \"Truncate\" is neither Clamp nor Deny"),
            std::string::npos)
      << d.message;
  w = testing::WorkloadJson();
  w["spec"]["perRequest"]["maxCost"] = "0";
  d = ValidateAgentWorkload(w);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("spec.perRequest.maxCost must be greater than zero"), std::string::npos)
      << d.message;
  w = testing::WorkloadJson();
  w["spec"]["perRequest"]["maxTokens"] = 0;
  d = ValidateAgentWorkload(w);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("spec.perRequest.maxTokens must be at least 1"), std::string::npos)
      << d.message;
}

TEST_F(ValidationTest, BudgetInAnUnknownTimeZoneIsInvalid) {
  nlohmann::json b = {{"metadata", {{"name", "b"}}},
                      {"spec", {{"limit", {{"amount", "100"}}}, {"timeZone", "Mars/Olympus"}}}};
  AdmissionDecision d = ValidateAgentBudget(b);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("Mars/Olympus"), std::string::npos);
}

TEST_F(ValidationTest, BudgetWithDuplicateAlertsIsInvalid) {
  nlohmann::json b = {{"metadata", {{"name", "b"}}},
                      {"spec", {{"limit", {{"amount", "100"}}}, {"alerts", {50, 50}}}}};
  EXPECT_FALSE(ValidateAgentBudget(b).allowed);
}

TEST_F(ValidationTest, WellFormedBudgetIsAllowed) {
  nlohmann::json b = {{"metadata", {{"name", "b"}}},
                      {"spec", {{"limit", {{"amount", "5000"}}}, {"timeZone", "UTC"},
                                {"alerts", {50, 80}}}}};
  AdmissionDecision d = ValidateAgentBudget(b);
  EXPECT_TRUE(d.allowed) << d.message;
}

}  // namespace
}  // namespace agentbudget::webhook
