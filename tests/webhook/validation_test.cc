#include "webhook/validation.h"

#include <gtest/gtest.h>

#include "tests/webhook/rules_fixture.h"

namespace agentbudget::webhook {
namespace {

class ValidationTest : public ::testing::Test, public testing::RulesFixture {
 protected:
  nlohmann::json InjectedPod() {
    nlohmann::json pod = testing::AgentPod();
    return pod.patch(MutatePod(pod, context_, meter_));
  }
  nlohmann::json InjectedJob() {
    nlohmann::json job = testing::AgentJob();
    return job.patch(MutateJob(job, context_));
  }
};

TEST_F(ValidationTest, InjectedPodIsAllowed) {
  AdmissionDecision d = ValidatePod(InjectedPod(), context_);
  EXPECT_TRUE(d.allowed) << d.message;
}

TEST_F(ValidationTest, GovernedPodWithoutTheMeterIsDenied) {
  AdmissionDecision d = ValidatePod(testing::AgentPod(), context_);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.code, 403);
  EXPECT_NE(d.message.find("no agentbudget-meter sidecar"), std::string::npos) << d.message;
}

TEST_F(ValidationTest, GovernedPodWithoutTheRunLabelIsDenied) {
  nlohmann::json pod = InjectedPod();
  pod["metadata"]["labels"].erase("agentbudget.io/run");
  AdmissionDecision d = ValidatePod(pod, context_);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("missing label agentbudget.io/run"), std::string::npos) << d.message;
}

TEST_F(ValidationTest, TeamLabelDifferentFromTheNamespaceIsDenied) {
  nlohmann::json pod = InjectedPod();
  pod["metadata"]["labels"]["agentbudget.io/team"] = "other";
  AdmissionDecision d = ValidatePod(pod, context_);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("differs from the namespace's team payments"), std::string::npos);
}

TEST_F(ValidationTest, NamespaceWithoutATeamIsDenied) {
  nlohmann::json pod = InjectedPod();
  context_.namespace_labels.erase("agentbudget.io/team");
  AdmissionDecision d = ValidatePod(pod, context_);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("namespace payments has no agentbudget.io/team"), std::string::npos);
}

TEST_F(ValidationTest, ModelOutsideTheAllowListIsDeniedNamingItsSource) {
  nlohmann::json pod = testing::AgentPod();
  pod["spec"]["containers"][0]["env"][0]["value"] = "claude-opus-4-1";
  pod = pod.patch(MutatePod(pod, context_, meter_));
  AdmissionDecision d = ValidatePod(pod, context_);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("model claude-opus-4-1 (container agent env ANTHROPIC_MODEL)"),
            std::string::npos)
      << d.message;
  EXPECT_NE(d.message.find("allowed: claude-sonnet-4-5, claude-haiku-4-5"), std::string::npos);
}

TEST_F(ValidationTest, ModelsAnnotationIsChecked) {
  nlohmann::json pod = InjectedPod();
  pod["metadata"]["annotations"]["agentbudget.io/models"] = "claude-haiku-4-5, gpt-5";
  AdmissionDecision d = ValidatePod(pod, context_);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("model gpt-5 (annotation agentbudget.io/models)"), std::string::npos);
}

TEST_F(ValidationTest, EmptyAllowListAllowsAnyModel) {
  workload_.allowed_models.clear();
  nlohmann::json pod = InjectedPod();
  pod["metadata"]["annotations"]["agentbudget.io/models"] = "anything";
  EXPECT_TRUE(ValidatePod(pod, context_).allowed);
}

TEST_F(ValidationTest, GovernedHostNetworkPodIsDenied) {
  nlohmann::json pod = testing::AgentPod();
  pod["spec"]["hostNetwork"] = true;
  AdmissionDecision d = ValidatePod(pod, context_);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("host network"), std::string::npos);
}

TEST_F(ValidationTest, UngovernedPodIsAllowed) {
  context_.workload = nullptr;
  EXPECT_TRUE(ValidatePod(testing::AgentPod(), context_).allowed);
}

TEST_F(ValidationTest, InjectedJobIsAllowed) {
  AdmissionDecision d = ValidateJob(InjectedJob(), context_);
  EXPECT_TRUE(d.allowed) << d.message;
}

TEST_F(ValidationTest, GovernedJobThatIsNotSuspendedIsDenied) {
  nlohmann::json job = InjectedJob();
  job["spec"]["suspend"] = false;
  AdmissionDecision d = ValidateJob(job, context_);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("must be created suspended"), std::string::npos);
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
