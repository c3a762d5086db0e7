#include "operator/authority/token_review_authenticator.h"

#include <gtest/gtest.h>

namespace agentbudget::authority {
namespace {

using nlohmann::json;

const json kPod = json::parse(R"({"metadata": {"name": "agent-x", "namespace": "payments",
  "labels": {"agentbudget.io/run": "uid-1", "agentbudget.io/workload": "review",
             "agentbudget.io/team": "forged", "agentbudget.io/user": "alice",
             "agentbudget.io/workflow": "pr-review"},
  "annotations": {"agentbudget.io/repo": "org/app"}}})");
const json kNamespace = json::parse(
    R"({"metadata": {"name": "payments", "labels": {"agentbudget.io/team": "payments"}}})");
const json kWorkload = json::parse(R"({"spec": {"priority": "ReleaseBlocking",
  "models": {"fallback": ["claude-sonnet-4-5", "claude-haiku-4-5"]},
  "perRun": {"maxCost": "25", "maxTokens": 5000000, "maxRequests": 400}}})");

TEST(CallerFromObjectsTest, RunWorkloadAndAttributionComeFromThePod) {
  auto caller = CallerFromObjects(kPod, kNamespace, kWorkload);
  ASSERT_TRUE(caller.ok());
  EXPECT_EQ(caller->run, "uid-1");
  EXPECT_EQ(caller->workload, "review");
  EXPECT_EQ(caller->attribution.at("user"), "alice");
  EXPECT_EQ(caller->attribution.at("repo"), "org/app");
  EXPECT_EQ(caller->priority, core::WorkPriority::kReleaseBlocking);
  EXPECT_EQ(caller->fallback_models.size(), 2U);
  EXPECT_EQ(caller->run_limits.max_cost->micros(), 25'000'000);
  EXPECT_EQ(*caller->run_limits.max_requests, 400);
}

TEST(CallerFromObjectsTest, TeamComesFromTheNamespaceNotFromPodLabels) {
  auto caller = CallerFromObjects(kPod, kNamespace, json());
  EXPECT_EQ(caller->attribution.at("team"), "payments");
}

TEST(CallerFromObjectsTest, TheKeySourceIsTheWorkloadsSpecMeterKeySource) {
  EXPECT_EQ(CallerFromObjects(kPod, kNamespace, kWorkload)->key_source, KeySource::kSecret);
  json workload = kWorkload;
  workload["spec"]["meter"] = {{"keySource", "Authority"}};
  EXPECT_EQ(CallerFromObjects(kPod, kNamespace, workload)->key_source, KeySource::kAuthority);
  workload["spec"]["meter"] = {{"keySource", 7}};
  EXPECT_EQ(CallerFromObjects(kPod, kNamespace, workload)->key_source, KeySource::kSecret);
}

TEST(CallerFromObjectsTest, PodWithoutARunIsRefused) {
  json pod = kPod;
  pod["metadata"]["labels"].erase("agentbudget.io/run");
  EXPECT_EQ(CallerFromObjects(pod, kNamespace, json()).error().code, ErrorCode::kPermissionDenied);
}

TEST(CallerFromObjectsTest, MalformedObjectsDoNotCrash) {
  EXPECT_FALSE(CallerFromObjects(json(), json(), json()).ok());
  EXPECT_FALSE(CallerFromObjects(json::array(), json(42), json("x")).ok());
}

}  // namespace
}  // namespace agentbudget::authority
