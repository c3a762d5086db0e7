#include "api/v1alpha1/agent_workload.h"

#include <gtest/gtest.h>

namespace agentbudget::v1alpha1 {
namespace {

nlohmann::json WorkloadObject(const std::string& name = "pr-review") {
  return {{"apiVersion", "agentbudget.io/v1alpha1"},
          {"kind", "AgentWorkload"},
          {"metadata", {{"name", name}, {"namespace", "payments"}}},
          {"spec",
           {{"selector", {{"matchLabels", {{"agentbudget.io/workload", name}}}}},
            {"class", "Assistive"},
            {"attribution", {{"workflow", "pr-review"}, {"repo", "acme/payments"}}},
            {"models", {{"allowed", {"claude-sonnet-4-5"}}}},
            {"perRun", {{"maxRuntime", "1h30m"}, {"maxSubagents", 20}}},
            {"onLimit", "Reject"},
            {"meter", {{"credentialsSecretRef", {{"name", "llm-keys"}}}}}}}};
}

TEST(WorkloadTest, ParsesTheSpec) {
  auto w = ParseWorkload(WorkloadObject());
  ASSERT_TRUE(w.ok()) << w.error().ToString();
  EXPECT_EQ(w->name, "pr-review");
  EXPECT_EQ(w->workflow, "pr-review");
  EXPECT_EQ(w->repo, "acme/payments");
  EXPECT_EQ(w->max_runtime_seconds, 5400);
  EXPECT_EQ(w->max_subagents, 20);
  EXPECT_EQ(w->on_limit, "Reject");
  EXPECT_TRUE(w->key_custody());
  EXPECT_EQ(w->priority, "Standard");
}

TEST(WorkloadTest, EmptySelectorIsRefused) {
  nlohmann::json object = WorkloadObject();
  object["spec"]["selector"] = nlohmann::json::object();
  EXPECT_FALSE(ParseWorkload(object).ok());
}

TEST(WorkloadTest, WrongTypeIsRefusedNamingTheField) {
  nlohmann::json object = WorkloadObject();
  object["spec"]["perRun"]["maxSubagents"] = "twenty";
  auto w = ParseWorkload(object);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find("spec.perRun.maxSubagents"), std::string::npos);
}

TEST(WorkloadTest, MaxRetriesAndOnCeilingAreParsed) {
  nlohmann::json object = WorkloadObject();
  object["spec"]["perRun"]["maxRetries"] = 2;
  object["spec"]["perRun"]["onCeiling"] = "Stop";
  auto w = ParseWorkload(object);
  ASSERT_TRUE(w.ok()) << w.error().ToString();
  EXPECT_EQ(w->max_retries, 2);
  EXPECT_EQ(w->on_ceiling, "Stop");
}

TEST(WorkloadTest, AbsentMaxRetriesAndOnCeilingTakeTheirDefaults) {
  auto w = ParseWorkload(WorkloadObject());
  ASSERT_TRUE(w.ok()) << w.error().ToString();
  EXPECT_EQ(w->max_retries, std::nullopt);
  EXPECT_EQ(w->on_ceiling, "Deny");
}

TEST(WorkloadTest, MaxRetriesOfTheWrongTypeIsRefusedNamingTheField) {
  nlohmann::json object = WorkloadObject();
  object["spec"]["perRun"]["maxRetries"] = "2";
  auto w = ParseWorkload(object);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find("spec.perRun.maxRetries"), std::string::npos)
      << w.error().message;
}

TEST(WorkloadTest, OnCeilingOfTheWrongTypeIsRefusedNamingTheField) {
  nlohmann::json object = WorkloadObject();
  object["spec"]["perRun"]["onCeiling"] = true;
  auto w = ParseWorkload(object);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find("spec.perRun.onCeiling"), std::string::npos)
      << w.error().message;
}

TEST(WorkloadTest, DurationsRoundUpToWholeSeconds) {
  EXPECT_EQ(*ParseDurationSeconds("90s"), 90);
  EXPECT_EQ(*ParseDurationSeconds("1.5h"), 5400);
  EXPECT_EQ(*ParseDurationSeconds("250ms"), 1);
  EXPECT_EQ(*ParseDurationSeconds("2h3m4s"), 7384);
}

TEST(WorkloadTest, MalformedDurationsAreRefused) {
  for (const char* bad : {"", "10", "h", "1x", ".s", "1h-2m", "99999999999h"}) {
    EXPECT_FALSE(ParseDurationSeconds(bad).ok()) << bad;
  }
}

TEST(WorkloadTest, SelectWorkloadPrefersTheNamedOneAmongMatches) {
  auto a = ParseWorkload(WorkloadObject("a"));
  nlohmann::json broad = WorkloadObject("b");
  broad["spec"]["selector"] = {{"matchLabels", {{"app", "agent"}}}};
  auto b = ParseWorkload(broad);
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<Workload> all = {*b, *a};
  core::Labels labels = {{"app", "agent"}, {"agentbudget.io/workload", "a"}};
  // Only b's selector matches (a wants agentbudget.io/workload=a: it matches too).
  EXPECT_EQ(SelectWorkload(labels, all)->name, "a");
  EXPECT_EQ(SelectWorkload({{"app", "agent"}}, all)->name, "b");
  EXPECT_EQ(SelectWorkload({{"app", "other"}}, all), nullptr);
}

TEST(WorkloadTest, ApproversAreParsed) {
  nlohmann::json object = WorkloadObject();
  object["spec"]["approval"] = {{"required", true},
                                {"approvers", {{"users", {"alice"}}, {"groups", {"leads"}}}}};
  auto w = ParseWorkload(object);
  ASSERT_TRUE(w.ok()) << w.error().ToString();
  EXPECT_TRUE(w->approval_required);
  EXPECT_TRUE(w->approvers.Includes("alice", {}));
  EXPECT_TRUE(w->approvers.Includes("bob", {"system:authenticated", "leads"}));
  EXPECT_FALSE(w->approvers.Includes("bob", {"system:authenticated"}));
}

TEST(WorkloadTest, WithoutApproversNobodyApproves) {
  auto w = ParseWorkload(WorkloadObject());
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w->approvers.empty());
  EXPECT_FALSE(w->approvers.Includes("alice", {"system:masters"}));
}

TEST(WorkloadTest, MalformedApproversAreRefusedNamingTheField) {
  nlohmann::json object = WorkloadObject();
  object["spec"]["approval"] = {{"approvers", {{"users", "alice"}}}};
  auto w = ParseWorkload(object);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find("spec.approval.approvers.users"), std::string::npos);
  object["spec"]["approval"] = {{"approvers", {"alice"}}};
  EXPECT_FALSE(ParseWorkload(object).ok());
}

TEST(WorkloadTest, KeySourceAuthorityKeepsCustodyWithoutASecret) {
  nlohmann::json object = WorkloadObject();
  object["spec"]["meter"] = {{"keySource", "Authority"}};
  auto w = ParseWorkload(object);
  ASSERT_TRUE(w.ok()) << w.error().ToString();
  EXPECT_EQ(w->key_source, KeySource::kAuthority);
  EXPECT_TRUE(w->key_custody());
  EXPECT_FALSE(w->mounts_secret());
}

TEST(WorkloadTest, KeySourceDefaultsToTheSecret) {
  auto w = ParseWorkload(WorkloadObject());
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->key_source, KeySource::kSecret);
  EXPECT_TRUE(w->mounts_secret());
}

TEST(WorkloadTest, KeySourceAuthorityWithASecretOrAnUnknownSourceIsRefused) {
  nlohmann::json object = WorkloadObject();
  object["spec"]["meter"]["keySource"] = "Authority";
  auto both = ParseWorkload(object);
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.error().message.find("credentialsSecretRef must not be set"), std::string::npos);
  object["spec"]["meter"]["keySource"] = "Vault";
  EXPECT_FALSE(ParseWorkload(object).ok());
}

}  // namespace
}  // namespace agentbudget::v1alpha1
