#include "webhook/mutation.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/webhook/rules_fixture.h"
#include "webhook/system_metadata.h"

namespace agentbudget::webhook {
namespace {

class PodMutationTest : public ::testing::Test, public testing::RulesFixture {
 protected:
  nlohmann::json Mutated(const nlohmann::json& pod) { return InjectedPod(pod); }
  static const nlohmann::json* FindEnv(const nlohmann::json& container, const std::string& name) {
    for (const nlohmann::json& e : container["env"]) {
      if (e["name"] == name) {
        return &e;
      }
    }
    return nullptr;
  }
};

TEST_F(PodMutationTest, MeterIsTheFirstInitContainerAsANativeSidecar) {
  nlohmann::json pod = testing::AgentPod();
  pod["spec"]["initContainers"] = {{{"name", "clone"}, {"image", "git"}}};
  nlohmann::json out = Mutated(pod);
  const nlohmann::json& meter = out["spec"]["initContainers"][0];
  EXPECT_EQ(meter["name"], "agentbudget-meter");
  EXPECT_EQ(meter["restartPolicy"], "Always");
  EXPECT_EQ(out["spec"]["initContainers"][1]["name"], "clone");
}

TEST_F(PodMutationTest, MeterRunsNonRootWithAReadOnlyRootAndLimits) {
  nlohmann::json meter = Mutated(testing::AgentPod())["spec"]["initContainers"][0];
  EXPECT_EQ(meter["securityContext"]["runAsNonRoot"], true);
  EXPECT_EQ(meter["securityContext"]["readOnlyRootFilesystem"], true);
  EXPECT_EQ(meter["securityContext"]["allowPrivilegeEscalation"], false);
  EXPECT_TRUE(meter["resources"]["limits"].contains("memory"));
  EXPECT_TRUE(meter.contains("startupProbe"));
}

TEST_F(PodMutationTest, MeterIsConfiguredThroughEnvAndFlags) {
  nlohmann::json meter = Mutated(testing::AgentPod())["spec"]["initContainers"][0];
  EXPECT_EQ((*FindEnv(meter, "AGENTBUDGET_WORKLOAD"))["value"], "pr-review");
  EXPECT_EQ((*FindEnv(meter, "AGENTBUDGET_RUN"))["value"], "run-uid-1");
  EXPECT_EQ((*FindEnv(meter, "AGENTBUDGET_AUTHORITY_URL"))["value"], "https://127.0.0.1:8443");
  EXPECT_EQ((*FindEnv(meter, "AGENTBUDGET_MAX_COST"))["value"], "2.50");
  EXPECT_EQ((*FindEnv(meter, "AGENTBUDGET_REQUEST_MAX_TOKENS"))["value"], "16000");
  EXPECT_EQ((*FindEnv(meter, "AGENTBUDGET_REQUEST_MAX_COST"))["value"], "0.50");
  EXPECT_EQ((*FindEnv(meter, "AGENTBUDGET_REQUEST_ON_EXCEED"))["value"], "Clamp");
  const nlohmann::json& args = meter["args"];
  EXPECT_NE(std::find(args.begin(), args.end(),
                      "--request-on-exceed=$(AGENTBUDGET_REQUEST_ON_EXCEED)"),
            args.end());
  EXPECT_NE(std::find(args.begin(), args.end(), "--run=$(AGENTBUDGET_RUN)"), args.end());
  EXPECT_NE(std::find(args.begin(), args.end(), "--listen=$(AGENTBUDGET_LISTEN)"), args.end());
}

TEST_F(PodMutationTest, CredentialsAreMountedOnTheMeterOnly) {
  nlohmann::json out = Mutated(testing::AgentPod());
  bool volume = false;
  for (const nlohmann::json& v : out["spec"]["volumes"]) {
    if (v["name"] == "agentbudget-credentials") {
      volume = true;
      EXPECT_EQ(v["secret"]["secretName"], "llm-keys");
    }
  }
  EXPECT_TRUE(volume);
  bool meter_mount = false;
  for (const nlohmann::json& m : out["spec"]["initContainers"][0]["volumeMounts"]) {
    meter_mount = meter_mount || m["name"] == "agentbudget-credentials";
  }
  EXPECT_TRUE(meter_mount);
  EXPECT_FALSE(out["spec"]["containers"][0].contains("volumeMounts"));
}

TEST_F(PodMutationTest, AgentsGetBaseUrlsAndPlaceholderKeysUnderCustody) {
  nlohmann::json agent = Mutated(testing::AgentPod())["spec"]["containers"][0];
  EXPECT_EQ((*FindEnv(agent, "ANTHROPIC_BASE_URL"))["value"], "http://127.0.0.1:8787/anthropic");
  EXPECT_EQ((*FindEnv(agent, "OPENAI_BASE_URL"))["value"], "http://127.0.0.1:8787/openai/v1");
  EXPECT_EQ((*FindEnv(agent, "ANTHROPIC_API_KEY"))["value"], "agentbudget-placeholder-key");
  EXPECT_EQ((*FindEnv(agent, "ANTHROPIC_MODEL"))["value"], "claude-sonnet-4-5");
}

TEST_F(PodMutationTest, CustodyReplacesAnAuthorsRealKey) {
  nlohmann::json pod = testing::AgentPod();
  pod["spec"]["containers"][0]["env"].push_back(
      {{"name", "ANTHROPIC_API_KEY"},
       {"valueFrom", {{"secretKeyRef", {{"name", "mine"}, {"key", "k"}}}}}});
  nlohmann::json agent = Mutated(pod)["spec"]["containers"][0];
  const nlohmann::json* key = FindEnv(agent, "ANTHROPIC_API_KEY");
  ASSERT_NE(key, nullptr);
  EXPECT_EQ((*key)["value"], "agentbudget-placeholder-key");
  EXPECT_FALSE(key->contains("valueFrom"));
}

TEST_F(PodMutationTest, WithoutCustodyTheAuthorsValuesAreKept) {
  workload_.credentials_secret.clear();
  nlohmann::json pod = testing::AgentPod();
  pod["spec"]["containers"][0]["env"].push_back(
      {{"name", "OPENAI_BASE_URL"}, {"value", "https://proxy.internal/v1"}});
  nlohmann::json agent = Mutated(pod)["spec"]["containers"][0];
  EXPECT_EQ((*FindEnv(agent, "OPENAI_BASE_URL"))["value"], "https://proxy.internal/v1");
  EXPECT_EQ(FindEnv(agent, "ANTHROPIC_API_KEY"), nullptr);
  const nlohmann::json out = Mutated(pod);
  for (const nlohmann::json& v : out["spec"]["volumes"]) {
    EXPECT_NE(v["name"], "agentbudget-credentials");
  }
}

TEST_F(PodMutationTest, TeamAndCostCenterComeFromTheNamespaceOverridingThePod) {
  nlohmann::json out = Mutated(testing::AgentPod());
  EXPECT_EQ(out["metadata"]["labels"]["agentbudget.io/team"], "payments");
  EXPECT_EQ(out["metadata"]["annotations"]["agentbudget.io/cost-center"], "cc-4021");
}

TEST_F(PodMutationTest, WorkloadAttributionAndRunAreStamped) {
  context_.parent_run = "parent-uid";
  nlohmann::json out = Mutated(testing::AgentPod());
  const nlohmann::json& labels = out["metadata"]["labels"];
  EXPECT_EQ(labels["agentbudget.io/workflow"], "pr-review");
  EXPECT_EQ(labels["agentbudget.io/environment"], "ci");
  EXPECT_EQ(labels["agentbudget.io/class"], "AutonomousBounded");
  EXPECT_EQ(labels["agentbudget.io/priority"], "ReleaseBlocking");
  EXPECT_EQ(labels["agentbudget.io/run"], "run-uid-1");
  EXPECT_EQ(labels["agentbudget.io/parent-run"], "parent-uid");
  EXPECT_EQ(labels["agentbudget.io/user"], "system-serviceaccount-ci-runner");
  EXPECT_EQ(out["metadata"]["annotations"]["agentbudget.io/repo"], "acme/payments");
  EXPECT_EQ(out["metadata"]["annotations"]["agentbudget.io/tags"], "{\"tier\":\"gold\"}");
}

TEST_F(PodMutationTest, ForgedSystemLabelsAndAnnotationsAreOverwrittenOrRemoved) {
  nlohmann::json pod = testing::AgentPod();
  pod["metadata"]["labels"]["agentbudget.io/user"] = "mallory";
  pod["metadata"]["labels"]["agentbudget.io/run"] = "someone-elses-run";
  pod["metadata"]["labels"]["agentbudget.io/invented"] = "x";
  pod["metadata"]["annotations"] = {{"agentbudget.io/approved-by", "me"},
                                    {"agentbudget.io/queue", "{\"state\":\"Admitted\"}"},
                                    {"agentbudget.io/models", "claude-haiku-4-5"},
                                    {"agentbudget.io/outcome", "merged"},
                                    {"example.com/mine", "kept"}};
  nlohmann::json out = Mutated(pod);
  const nlohmann::json& labels = out["metadata"]["labels"];
  EXPECT_EQ(labels["agentbudget.io/user"], "system-serviceaccount-ci-runner");
  EXPECT_EQ(labels["agentbudget.io/run"], "run-uid-1");
  EXPECT_FALSE(labels.contains("agentbudget.io/invented"));
  const nlohmann::json& annotations = out["metadata"]["annotations"];
  EXPECT_FALSE(annotations.contains("agentbudget.io/approved-by"));
  EXPECT_FALSE(annotations.contains("agentbudget.io/queue"));
  EXPECT_EQ(annotations["agentbudget.io/models"], "claude-haiku-4-5");
  EXPECT_EQ(annotations["agentbudget.io/outcome"], "merged");
  EXPECT_EQ(annotations["example.com/mine"], "kept");
  EXPECT_EQ(SystemMetadataOf(out["metadata"]), PodSystemMetadata(context_, meter_));
}

TEST_F(PodMutationTest, WithoutAUserTheLabelIsRemoved) {
  context_.user.clear();
  nlohmann::json pod = testing::AgentPod();
  pod["metadata"]["labels"]["agentbudget.io/user"] = "mallory";
  EXPECT_FALSE(Mutated(pod)["metadata"]["labels"].contains("agentbudget.io/user"));
}

TEST_F(PodMutationTest, BarePodGetsTheSchedulingGate) {
  nlohmann::json out = Mutated(testing::AgentPod());
  EXPECT_EQ(out["spec"]["schedulingGates"][0]["name"], "agentbudget.io/admission");
}

TEST_F(PodMutationTest, PodOwnedByAJobIsNotGated) {
  nlohmann::json pod = testing::AgentPod();
  pod["metadata"]["ownerReferences"] = {
      {{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"name", "j"}, {"uid", "job-uid"},
       {"controller", true}}};
  nlohmann::json out = Mutated(pod);
  EXPECT_FALSE(out["spec"].contains("schedulingGates"));
}

TEST_F(PodMutationTest, TheInjectedRecordDoesNotDeclineInjection) {
  nlohmann::json pod = testing::AgentPod();
  pod["metadata"]["annotations"] = {{"agentbudget.io/injected", "{\"version\":\"v1\"}"}};
  nlohmann::json out = Mutated(pod);
  EXPECT_EQ(out["spec"]["initContainers"][0]["name"], "agentbudget-meter");
  EXPECT_EQ(out["spec"]["schedulingGates"][0]["name"], "agentbudget.io/admission");
}

TEST_F(PodMutationTest, ACreatorsOwnMeterIsRefusedAsAReservedName) {
  nlohmann::json pod = testing::AgentPod();
  pod["spec"]["initContainers"] = {
      {{"name", "agentbudget-meter"}, {"image", "evil"}, {"restartPolicy", "Always"}}};
  AdmissionDecision d = MutatePod(pod, context_, meter_);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.message,
            "pod payments/agent-1: container name \"agentbudget-meter\" (spec.initContainers) is "
            "reserved for agentbudget (rule reserved-name); rename the container (names "
            "starting agentbudget- are agentbudget's)");
}

TEST_F(PodMutationTest, ReservedContainerAndVolumeNamesAreRefused) {
  for (const char* list : {"containers", "volumes"}) {
    nlohmann::json pod = testing::AgentPod();
    pod["spec"][list].push_back({{"name", "agentbudget-token"}, {"image", "x"}});
    AdmissionDecision d = MutatePod(pod, context_, meter_);
    EXPECT_FALSE(d.allowed) << list;
    EXPECT_NE(d.message.find("(rule reserved-name)"), std::string::npos) << d.message;
  }
}

TEST_F(PodMutationTest, APodOwnedByAJobFromSomeoneButTheJobControllerIsRefused) {
  nlohmann::json pod = testing::AgentPod();
  pod["metadata"]["ownerReferences"] = {
      {{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"name", "j"}, {"uid", "job-uid"},
       {"controller", true}}};
  AdmissionDecision d = MutatePod(pod, context_, meter_);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("(rule job-owner)"), std::string::npos) << d.message;
  context_.job_controller = true;
  EXPECT_TRUE(MutatePod(pod, context_, meter_).allowed);
}

TEST_F(PodMutationTest, ACreatorsOwnAdmissionGateIsNotDoubled) {
  nlohmann::json pod = testing::AgentPod();
  pod["spec"]["schedulingGates"] = {{{"name", "agentbudget.io/admission"}}};
  EXPECT_EQ(Mutated(pod)["spec"]["schedulingGates"].size(), 1u);
}

TEST_F(PodMutationTest, AuthorityKeySourceMountsNoSecretAndTellsTheMeter) {
  workload_.credentials_secret.clear();
  workload_.key_source = v1alpha1::KeySource::kAuthority;
  nlohmann::json out = Mutated(testing::AgentPod());
  EXPECT_EQ(testing::Named(out["spec"], "volumes", "agentbudget-credentials"), nullptr);
  const nlohmann::json& meter = out["spec"]["initContainers"][0];
  EXPECT_EQ((*FindEnv(meter, "AGENTBUDGET_KEY_SOURCE"))["value"], "authority");
  EXPECT_EQ(FindEnv(meter, "AGENTBUDGET_ANTHROPIC_KEY_FILE"), nullptr);
  const nlohmann::json& args = meter["args"];
  EXPECT_NE(std::find(args.begin(), args.end(), "--key-source=$(AGENTBUDGET_KEY_SOURCE)"),
            args.end());
  // Agents still hold placeholders only.
  EXPECT_EQ((*FindEnv(out["spec"]["containers"][0], "ANTHROPIC_API_KEY"))["value"],
            "agentbudget-placeholder-key");
}

TEST_F(PodMutationTest, TheAuthorityCaReachesTheMeterAsAnEnvVariable) {
  meter_.authority_ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  const nlohmann::json meter = Mutated(testing::AgentPod())["spec"]["initContainers"][0];
  EXPECT_EQ((*FindEnv(meter, "AGENTBUDGET_AUTHORITY_CA"))["value"], meter_.authority_ca);
  meter_.authority_ca.clear();
  EXPECT_EQ(FindEnv(Mutated(testing::AgentPod())["spec"]["initContainers"][0],
                    "AGENTBUDGET_AUTHORITY_CA"),
            nullptr);
}

TEST_F(PodMutationTest, InjectedRecordNamesTheWorkloadAndImage) {
  nlohmann::json out = Mutated(testing::AgentPod());
  auto record = nlohmann::json::parse(
      out["metadata"]["annotations"]["agentbudget.io/injected"].get<std::string>());
  EXPECT_EQ(record["workload"], "pr-review");
  EXPECT_EQ(record["meter"], meter_.image);
}

TEST_F(PodMutationTest, HostNetworkPodsAreInjectedAndLeftToValidation) {
  nlohmann::json pod = testing::AgentPod();
  pod["spec"]["hostNetwork"] = true;
  EXPECT_EQ(Mutated(pod)["spec"]["initContainers"][0]["name"], "agentbudget-meter");
}

TEST_F(PodMutationTest, MirrorPodsAreSkipped) {
  nlohmann::json pod = testing::AgentPod();
  pod["metadata"]["annotations"] = {{"kubernetes.io/config.mirror", "abc"}};
  EXPECT_TRUE(MutatePod(pod, context_, meter_).patch.empty());
}

TEST_F(PodMutationTest, PodsOutsideOptedInNamespacesAreSkipped) {
  context_.namespace_labels.erase("agentbudget.io/inject");
  EXPECT_TRUE(MutatePod(testing::AgentPod(), context_, meter_).patch.empty());
}

TEST_F(PodMutationTest, UngovernedPodsAreSkipped) {
  context_.workload = nullptr;
  EXPECT_TRUE(MutatePod(testing::AgentPod(), context_, meter_).patch.empty());
}

TEST_F(PodMutationTest, PatchAppliesToAPodWithNoLabelsEnvOrVolumes) {
  nlohmann::json pod = {{"metadata", {{"name", "bare"}}},
                        {"spec", {{"containers", {{{"name", "a"}, {"image", "x"}}}}}}};
  nlohmann::json out = Mutated(pod);
  EXPECT_EQ(out["metadata"]["labels"]["agentbudget.io/workload"], "pr-review");
  EXPECT_EQ(out["spec"]["volumes"].size(), 3u);
  EXPECT_EQ(out["spec"]["containers"][0]["env"].size(), 4u);
}

class JobMutationTest : public ::testing::Test, public testing::RulesFixture {
 protected:
  nlohmann::json Mutated(const nlohmann::json& job) { return InjectedJob(job); }
};

TEST_F(JobMutationTest, GovernedJobIsCreatedSuspendedWithTheQueueAnnotation) {
  nlohmann::json out = Mutated(testing::AgentJob());
  EXPECT_EQ(out["spec"]["suspend"], true);
  auto queue = nlohmann::json::parse(
      out["metadata"]["annotations"]["agentbudget.io/queue"].get<std::string>());
  EXPECT_EQ(queue["state"], "Pending");
}

TEST_F(JobMutationTest, ExplicitlyUnsuspendedJobIsSuspended) {
  nlohmann::json job = testing::AgentJob();
  job["spec"]["suspend"] = false;
  EXPECT_EQ(Mutated(job)["spec"]["suspend"], true);
}

TEST_F(JobMutationTest, DeadlineComesFromMaxRuntimeWhenUnset) {
  EXPECT_EQ(Mutated(testing::AgentJob())["spec"]["activeDeadlineSeconds"], 3600);
}

TEST_F(JobMutationTest, LargerDeadlineIsLoweredToMaxRuntime) {
  nlohmann::json job = testing::AgentJob();
  job["spec"]["activeDeadlineSeconds"] = 7200;
  EXPECT_EQ(Mutated(job)["spec"]["activeDeadlineSeconds"], 3600);
}

TEST_F(JobMutationTest, SmallerDeadlineIsKept) {
  nlohmann::json job = testing::AgentJob();
  job["spec"]["activeDeadlineSeconds"] = 600;
  EXPECT_EQ(Mutated(job)["spec"]["activeDeadlineSeconds"], 600);
}

TEST_F(JobMutationTest, BackoffLimitIsAddedFromMaxRetriesWhenUnset) {
  workload_.max_retries = 2;
  nlohmann::json patch = MutateJob(testing::AgentJob(), context_).patch;
  EXPECT_NE(std::find(patch.begin(), patch.end(),
                      nlohmann::json{{"op", "add"}, {"path", "/spec/backoffLimit"}, {"value", 2}}),
            patch.end())
      << patch.dump();
  EXPECT_EQ(testing::AgentJob().patch(patch)["spec"]["backoffLimit"], 2);
}

TEST_F(JobMutationTest, LargerBackoffLimitIsLoweredToMaxRetries) {
  workload_.max_retries = 2;
  nlohmann::json job = testing::AgentJob();
  job["spec"]["backoffLimit"] = 6;
  nlohmann::json patch = MutateJob(job, context_).patch;
  EXPECT_NE(std::find(patch.begin(), patch.end(),
                      nlohmann::json{
                          {"op", "replace"}, {"path", "/spec/backoffLimit"}, {"value", 2}}),
            patch.end())
      << patch.dump();
  EXPECT_EQ(job.patch(patch)["spec"]["backoffLimit"], 2);
}

TEST_F(JobMutationTest, SmallerBackoffLimitIsKept) {
  workload_.max_retries = 2;
  nlohmann::json job = testing::AgentJob();
  job["spec"]["backoffLimit"] = 1;
  EXPECT_EQ(Mutated(job)["spec"]["backoffLimit"], 1);
}

TEST_F(JobMutationTest, ZeroMaxRetriesAllowsNoRetry) {
  workload_.max_retries = 0;
  nlohmann::json job = testing::AgentJob();
  job["spec"]["backoffLimit"] = 6;
  EXPECT_EQ(Mutated(job)["spec"]["backoffLimit"], 0);
}

TEST_F(JobMutationTest, WithoutMaxRetriesBackoffLimitIsLeftAsWritten) {
  EXPECT_FALSE(Mutated(testing::AgentJob())["spec"].contains("backoffLimit"));
  nlohmann::json job = testing::AgentJob();
  job["spec"]["backoffLimit"] = 6;
  EXPECT_EQ(Mutated(job)["spec"]["backoffLimit"], 6);
}

TEST_F(JobMutationTest, AttributionGoesOnTheJobAndItsPodTemplate) {
  context_.parent_run = "parent-uid";
  nlohmann::json out = Mutated(testing::AgentJob());
  for (const nlohmann::json* meta : {&out["metadata"], &out["spec"]["template"]["metadata"]}) {
    EXPECT_EQ((*meta)["labels"]["agentbudget.io/team"], "payments");
    EXPECT_EQ((*meta)["labels"]["agentbudget.io/workflow"], "pr-review");
    EXPECT_EQ((*meta)["labels"]["agentbudget.io/parent-run"], "parent-uid");
    EXPECT_EQ((*meta)["annotations"]["agentbudget.io/repo"], "acme/payments");
  }
  EXPECT_FALSE(out["metadata"]["labels"].contains("agentbudget.io/run"));
}

TEST_F(JobMutationTest, AForgedInjectedRecordAndQueueStateAreOverwritten) {
  nlohmann::json job = testing::AgentJob();
  job["spec"]["suspend"] = false;
  job["metadata"]["annotations"] = {
      {"agentbudget.io/injected", "{}"},
      {"agentbudget.io/queue", "{\"state\":\"Admitted\"}"},
      {"agentbudget.io/approved-by", "me"},
      {"agentbudget.io/approved-at", "2026-01-01T00:00:00Z"}};
  job["spec"]["template"]["metadata"]["labels"]["agentbudget.io/user"] = "mallory";
  job["spec"]["template"]["metadata"]["annotations"] = {{"agentbudget.io/queue", "x"}};
  nlohmann::json out = Mutated(job);
  EXPECT_EQ(out["spec"]["suspend"], true);
  EXPECT_EQ(SystemMetadataOf(out["metadata"]), JobSystemMetadata(context_));
  EXPECT_EQ(SystemMetadataOf(out["spec"]["template"]["metadata"]),
            TemplateSystemMetadata(context_));
  EXPECT_EQ(out["spec"]["template"]["metadata"]["labels"]["agentbudget.io/user"],
            "system-serviceaccount-ci-runner");
}

TEST_F(JobMutationTest, ATemplateWithAReservedNameIsRefused) {
  nlohmann::json job = testing::AgentJob();
  job["spec"]["template"]["spec"]["initContainers"] = {
      {{"name", "agentbudget-meter"}, {"image", "evil"}}};
  AdmissionDecision d = MutateJob(job, context_);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("job payments/review-42: container name \"agentbudget-meter\""),
            std::string::npos)
      << d.message;
  EXPECT_NE(d.message.find("(rule reserved-name)"), std::string::npos);
}

TEST_F(JobMutationTest, ATemplateWithoutMetadataGetsIt) {
  nlohmann::json job = testing::AgentJob();
  job["spec"]["template"].erase("metadata");
  EXPECT_EQ(SystemMetadataOf(Mutated(job)["spec"]["template"]["metadata"]),
            TemplateSystemMetadata(context_));
}

TEST_F(JobMutationTest, JobsOutsideOptedInNamespacesAreSkipped) {
  context_.namespace_labels["agentbudget.io/inject"] = "disabled";
  EXPECT_TRUE(MutateJob(testing::AgentJob(), context_).patch.empty());
}

}  // namespace
}  // namespace agentbudget::webhook
