#include "webhook/key_custody.h"

#include <gtest/gtest.h>

#include "tests/webhook/rules_fixture.h"

namespace agentbudget::webhook {
namespace {

class KeyCustodyTest : public ::testing::Test, public testing::RulesFixture {
 protected:
  nlohmann::json Spec() const { return testing::AgentPod()["spec"]; }
  std::string RuleOf(const nlohmann::json& spec) const {
    auto violation = KeyCustodyViolation(spec, workload_, allowed_);
    return violation ? violation->rule : "";
  }
  PodFeatures allowed_;
};

TEST_F(KeyCustodyTest, APlainAgentPodKeepsCustody) { EXPECT_EQ(RuleOf(Spec()), ""); }

TEST_F(KeyCustodyTest, EachPodLevelFeatureIsRefusedUntilAllowed) {
  const struct {
    const char* field;
    const char* rule;
    bool PodFeatures::*allow;
  } cases[] = {{"shareProcessNamespace", "share-process-namespace",
                &PodFeatures::share_process_namespace},
               {"hostPID", "host-pid", &PodFeatures::host_pid},
               {"hostNetwork", "host-network", &PodFeatures::host_network}};
  for (const auto& c : cases) {
    nlohmann::json spec = Spec();
    spec[c.field] = true;
    allowed_ = PodFeatures{};
    EXPECT_EQ(RuleOf(spec), c.rule);
    allowed_.*c.allow = true;
    EXPECT_EQ(RuleOf(spec), "") << c.field;
  }
}

TEST_F(KeyCustodyTest, APrivilegedInitContainerIsRefusedUntilAllowed) {
  nlohmann::json spec = Spec();
  spec["initContainers"] = {
      {{"name", "setup"}, {"image", "x"}, {"securityContext", {{"privileged", true}}}}};
  auto violation = KeyCustodyViolation(spec, workload_, allowed_);
  ASSERT_TRUE(violation);
  EXPECT_EQ(violation->rule, "privileged");
  EXPECT_EQ(violation->problem, "init container \"setup\" is privileged, so it could read the "
                                "meter's keys");
  allowed_.privileged = true;
  EXPECT_EQ(RuleOf(spec), "");
}

TEST_F(KeyCustodyTest, MountingAnyMeterVolumeIsRefused) {
  for (const char* volume : {"agentbudget-credentials", "agentbudget-token", "agentbudget-spool"}) {
    nlohmann::json spec = Spec();
    spec["containers"][0]["volumeMounts"] = {{{"name", volume}, {"mountPath", "/x"}}};
    EXPECT_EQ(RuleOf(spec), "credentials-volume") << volume;
  }
}

TEST_F(KeyCustodyTest, EveryWayToReferenceTheCredentialsSecretIsRefused) {
  nlohmann::json env = Spec();
  env["containers"][0]["env"].push_back(
      {{"name", "LEAK"}, {"valueFrom", {{"secretKeyRef", {{"name", "llm-keys"}, {"key", "k"}}}}}});
  nlohmann::json env_from = Spec();
  env_from["containers"][0]["envFrom"] = {{{"secretRef", {{"name", "llm-keys"}}}}};
  nlohmann::json volume = Spec();
  volume["volumes"] = {{{"name", "keys"}, {"secret", {{"secretName", "llm-keys"}}}}};
  nlohmann::json projected = Spec();
  projected["volumes"] = {
      {{"name", "keys"},
       {"projected", {{"sources", {{{"secret", {{"name", "llm-keys"}}}}}}}}}};
  for (const nlohmann::json& spec : {env, env_from, volume, projected}) {
    EXPECT_EQ(RuleOf(spec), "credentials-secret") << spec.dump();
  }
}

TEST_F(KeyCustodyTest, OtherSecretsAreTheAgentsOwn) {
  nlohmann::json spec = Spec();
  spec["containers"][0]["envFrom"] = {{{"secretRef", {{"name", "github-token"}}}}};
  spec["volumes"] = {{{"name", "ssh"}, {"secret", {{"secretName", "deploy-key"}}}}};
  EXPECT_EQ(RuleOf(spec), "");
}

TEST_F(KeyCustodyTest, WithoutASecretThereIsNoSecretToGuard) {
  workload_.credentials_secret.clear();
  nlohmann::json spec = Spec();
  spec["containers"][0]["envFrom"] = {{{"secretRef", {{"name", "llm-keys"}}}}};
  EXPECT_EQ(RuleOf(spec), "");
}

TEST_F(KeyCustodyTest, AProjectedTokenForTheAuthorityIsRefused) {
  nlohmann::json spec = Spec();
  spec["volumes"] = {{{"name", "mine"},
                      {"projected",
                       {{"sources",
                         {{{"serviceAccountToken", {{"audience", "agentbudget"}, {"path", "t"}}}}}}}}}};
  EXPECT_EQ(RuleOf(spec), "credentials-volume");
  spec["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]["audience"] = "vault";
  EXPECT_EQ(RuleOf(spec), "");
}

TEST_F(KeyCustodyTest, TheMeterItselfIsNotJudged) {
  nlohmann::json spec = InjectedPod(testing::AgentPod())["spec"];
  EXPECT_EQ(RuleOf(spec), "");
}

TEST(PodFeaturesTest, ParsesKnownFeaturesAndRefusesOthers) {
  auto features = PodFeatures::Parse("hostNetwork, privileged");
  ASSERT_TRUE(features.ok());
  EXPECT_TRUE(features->host_network);
  EXPECT_TRUE(features->privileged);
  EXPECT_FALSE(features->host_pid);
  EXPECT_EQ(features->ToString(), "hostNetwork,privileged");
  EXPECT_EQ(PodFeatures::Parse("")->ToString(), "");
  auto bad = PodFeatures::Parse("hostIPC");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("unknown pod feature \"hostIPC\""), std::string::npos);
  EXPECT_FALSE(PodFeatures::Parse("privileged,").ok());
}

}  // namespace
}  // namespace agentbudget::webhook
