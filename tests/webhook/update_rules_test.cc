#include "webhook/update_rules.h"

#include <gtest/gtest.h>

#include "tests/webhook/rules_fixture.h"

namespace agentbudget::webhook {
namespace {

using nlohmann::json;

class UpdateRulesTest : public ::testing::Test, public testing::RulesFixture {
 protected:
  UpdateRulesTest() {
    update_.namespace_name = "payments";
    update_.username = "mallory";
    update_.groups = {"system:authenticated"};
    update_.workload = &workload_;
    pod_ = InjectedPod(testing::AgentPod());
    job_ = InjectedJob(testing::AgentJob());
  }
  static void ExpectRule(const AdmissionDecision& d, const std::string& rule) {
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.rule, rule) << d.message;
    EXPECT_NE(d.message.find("(rule " + rule + ")"), std::string::npos) << d.message;
  }

  UpdateContext update_;
  json pod_;
  json job_;
};

TEST_F(UpdateRulesTest, UnsuspendingAHeldJobIsRefused) {
  json job = job_;
  job["spec"]["suspend"] = false;
  AdmissionDecision d = ValidateJobUpdate(job_, job, update_);
  ExpectRule(d, "held-job");
  EXPECT_NE(d.message.find("job payments/review-42: it clears spec.suspend"), std::string::npos)
      << d.message;
  job["spec"].erase("suspend");
  ExpectRule(ValidateJobUpdate(job_, job, update_), "held-job");
}

TEST_F(UpdateRulesTest, AnInjectedJobStaysHeldEvenWhenNoWorkloadSelectsItAnyMore) {
  update_.workload = nullptr;
  json job = job_;
  job["spec"]["suspend"] = false;
  ExpectRule(ValidateJobUpdate(job_, job, update_), "held-job");
}

TEST_F(UpdateRulesTest, AnUngovernedJobMayBeUnsuspended) {
  update_.workload = nullptr;
  json old = testing::AgentJob();
  old["spec"]["suspend"] = true;
  json job = old;
  job["spec"]["suspend"] = false;
  EXPECT_TRUE(ValidateJobUpdate(old, job, update_).allowed);
}

TEST_F(UpdateRulesTest, SuspendingAndOtherChangesAreAllowed) {
  json job = job_;
  job["metadata"]["labels"]["app"] = "mine";
  job["metadata"]["annotations"]["agentbudget.io/outcome"] = "merged";
  EXPECT_TRUE(ValidateJobUpdate(job_, job, update_).allowed);
}

TEST_F(UpdateRulesTest, ChangingAddingOrRemovingSystemMetadataIsRefused) {
  json changed = job_;
  changed["metadata"]["labels"]["agentbudget.io/user"] = "someone-else";
  json added = job_;
  added["metadata"]["labels"]["agentbudget.io/invented"] = "x";
  json removed = job_;
  removed["metadata"]["annotations"].erase("agentbudget.io/queue");
  json admitted = job_;
  admitted["metadata"]["annotations"]["agentbudget.io/queue"] = "{\"state\":\"Admitted\"}";
  json template_changed = job_;
  template_changed["spec"]["template"]["metadata"]["labels"]["agentbudget.io/team"] = "other";
  for (const json& job : {changed, added, removed, admitted, template_changed}) {
    ExpectRule(ValidateJobUpdate(job_, job, update_), "system-metadata");
  }
  AdmissionDecision d = ValidateJobUpdate(job_, changed, update_);
  EXPECT_NE(d.message.find("it changes label agentbudget.io/user "
                           "\"system-serviceaccount-ci-runner\" -> \"someone-else\""),
            std::string::npos)
      << d.message;
}

TEST_F(UpdateRulesTest, ApprovalsAreJudgedByTheApprovalRules) {
  workload_.approvers.users = {"alice"};
  json approved = job_;
  approved["metadata"]["annotations"]["agentbudget.io/approved-by"] = "mallory";
  approved["metadata"]["annotations"]["agentbudget.io/approved-at"] = "2027-01-15T08:00:00Z";
  ExpectRule(ValidateJobUpdate(job_, approved, update_), "approvers");
  approved["metadata"]["annotations"]["agentbudget.io/approved-by"] = "alice";
  update_.username = "alice";
  EXPECT_TRUE(ValidateJobUpdate(job_, approved, update_).allowed);
}

TEST_F(UpdateRulesTest, RemovingTheAdmissionGateIsRefused) {
  json pod = pod_;
  pod["spec"].erase("schedulingGates");
  ExpectRule(ValidatePodUpdate(pod_, pod, update_), "admission-gate");
}

TEST_F(UpdateRulesTest, ChangingTheMeterIsRefused) {
  json pod = pod_;
  pod["spec"]["initContainers"][0]["image"] = "mallory/no-op:1";
  ExpectRule(ValidatePodUpdate(pod_, pod, update_), "meter-immutable");
}

TEST_F(UpdateRulesTest, ForgingAPodsSystemLabelIsRefused) {
  json pod = pod_;
  pod["metadata"]["labels"]["agentbudget.io/run"] = "another-run";
  ExpectRule(ValidatePodUpdate(pod_, pod, update_), "system-metadata");
}

TEST_F(UpdateRulesTest, WhatTheJobControllerAndGarbageCollectorChangePasses) {
  json pod = pod_;
  pod["metadata"]["finalizers"] = {"batch.kubernetes.io/job-tracking"};
  json finished = pod;
  finished["metadata"].erase("finalizers");
  finished["metadata"]["ownerReferences"] = json::array();
  EXPECT_TRUE(ValidatePodUpdate(pod_, pod, update_).allowed);
  EXPECT_TRUE(ValidatePodUpdate(pod, finished, update_).allowed);
  json agent_image = pod_;
  agent_image["spec"]["containers"][0]["image"] = "agent:2";
  EXPECT_TRUE(ValidatePodUpdate(pod_, agent_image, update_).allowed);
}

class EphemeralContainerTest : public UpdateRulesTest {
 protected:
  json WithDebugger(json container) const {
    json pod = pod_;
    container["name"] = container.value("name", "debugger");
    container["image"] = "busybox";
    pod["spec"]["ephemeralContainers"] = {container};
    return pod;
  }
};

TEST_F(EphemeralContainerTest, ADebuggerOfAnAgentIsAllowed) {
  EXPECT_TRUE(ValidateEphemeralContainers(pod_, WithDebugger({{"targetContainerName", "agent"}}),
                                          update_)
                  .allowed);
}

TEST_F(EphemeralContainerTest, EveryWayToReachTheMetersKeysIsRefused) {
  const json attempts[] = {
      {{"name", "agentbudget-meter-2"}},
      {{"targetContainerName", "agentbudget-meter"}},
      {{"volumeMounts", {{{"name", "agentbudget-credentials"}, {"mountPath", "/k"}}}}},
      {{"env", {{{"name", "K"}, {"valueFrom", {{"secretKeyRef", {{"name", "llm-keys"}, {"key", "a"}}}}}}}}},
      {{"envFrom", {{{"secretRef", {{"name", "llm-keys"}}}}}}},
      {{"securityContext", {{"privileged", true}}}},
  };
  for (const json& attempt : attempts) {
    ExpectRule(ValidateEphemeralContainers(pod_, WithDebugger(attempt), update_),
               "ephemeral-container");
  }
}

TEST_F(EphemeralContainerTest, EarlierEphemeralContainersAreNotJudgedAgain) {
  json before = WithDebugger({{"securityContext", {{"privileged", true}}}});
  json after = before;
  after["spec"]["ephemeralContainers"].push_back({{"name", "second"}, {"image", "busybox"}});
  EXPECT_TRUE(ValidateEphemeralContainers(before, after, update_).allowed);
}

TEST_F(EphemeralContainerTest, UngovernedPodsAreNotJudged) {
  update_.workload = nullptr;
  json plain = testing::AgentPod();
  json debugged = plain;
  debugged["spec"]["ephemeralContainers"] = {
      {{"name", "d"}, {"image", "x"}, {"securityContext", {{"privileged", true}}}}};
  EXPECT_TRUE(ValidateEphemeralContainers(plain, debugged, update_).allowed);
}

}  // namespace
}  // namespace agentbudget::webhook
