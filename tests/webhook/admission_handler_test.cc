#include "webhook/admission_handler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "tests/webhook/rules_fixture.h"

namespace agentbudget::webhook {
namespace {

// Counts in memory, like the ConfigMap counter but for one process.
class FakeFanoutCounter : public FanoutCounter {
 public:
  Result<FanoutClaim> Claim(const FanoutRequest& request) override {
    MutexLock lock(mu_);
    ++calls;
    last = request;
    int64_t& count = counts_[request.parent_run];
    if (count >= request.cap) {
      return FanoutClaim{false, count};
    }
    if (request.dry_run) {
      return FanoutClaim{true, count + 1};
    }
    return FanoutClaim{true, ++count};
  }
  int calls = 0;
  FanoutRequest last;

 private:
  Mutex mu_;
  std::map<std::string, int64_t> counts_ GUARDED_BY(mu_);
};

class AdmissionHandlerTest : public ::testing::Test {
 protected:
  AdmissionHandlerTest()
      : metrics_(std::make_shared<prometheus::Registry>()),
        handler_(cache_, counter_, Pods(), MeterSettings{}, metrics_,
                 [this](const std::string& ns, const std::string& name) {
                   rejected_.push_back(ns + "/" + name);
                 }) {
    cache_.PutNamespace({{"metadata",
                          {{"name", "payments"},
                           {"labels",
                            {{"agentbudget.io/inject", "enabled"},
                             {"agentbudget.io/team", "payments"}}}}}});
    nlohmann::json w = testing::WorkloadJson();
    w["spec"]["perRun"]["maxSubagents"] = 2;
    EXPECT_TRUE(cache_.PutWorkload(w).ok());
  }

  PodLookup Pods() {
    return [this](const std::string& ns, const std::string& name) -> Result<nlohmann::json> {
      auto it = creator_pods_.find(ns + "/" + name);
      if (it == creator_pods_.end()) {
        return NotFound("no pod " + name);
      }
      return it->second;
    };
  }

  // A pod `name` with `labels`, as the API server stores it (with a UID).
  static nlohmann::json StoredPod(const std::string& name, const core::Labels& labels) {
    return {{"metadata", {{"name", name}, {"uid", name + "-uid"}, {"labels", labels}}}};
  }

  // A validation request for `object` made by the pod "orchestrator" through its token.
  static AdmissionRequest FromOrchestrator(const nlohmann::json& object) {
    http::Request request = Post(object);
    nlohmann::json review = nlohmann::json::parse(request.body);
    review["request"]["userInfo"]["extra"] = {
        {"authentication.kubernetes.io/pod-name", {"orchestrator"}}};
    return *DecodeAdmissionReview(review.dump());
  }

  static http::Request Post(const nlohmann::json& object, const std::string& kind = "Pod",
                            const std::string& uid = "req-1") {
    nlohmann::json review = {
        {"apiVersion", "admission.k8s.io/v1"},
        {"kind", "AdmissionReview"},
        {"request",
         {{"uid", uid},
          {"kind", {{"group", kind == "Job" ? "batch" : ""}, {"version", "v1"}, {"kind", kind}}},
          {"namespace", "payments"},
          {"operation", "CREATE"},
          {"userInfo", {{"username", "system:serviceaccount:payments:agent"}}},
          {"object", object}}}};
    http::Request r;
    r.method = "POST";
    r.headers["Content-Type"] = "application/json";
    r.body = review.dump();
    return r;
  }

  static nlohmann::json ResponseOf(const http::Response& r) {
    return nlohmann::json::parse(r.body)["response"];
  }

  static nlohmann::json SubagentPod() {
    nlohmann::json pod = testing::AgentPod();
    pod["metadata"]["labels"]["agentbudget.io/parent-run"] = "parent-1";
    return pod;
  }

  nlohmann::json Injected(const nlohmann::json& pod, const std::string& uid) {
    auto response = ResponseOf(handler_.Mutate(Post(pod, "Pod", uid)));
    EXPECT_TRUE(response.contains("patch"));
    auto decoded = DecodeAdmissionReview(Post(pod, "Pod", uid).body);
    return pod.patch(handler_.DecideMutation(*decoded).patch);
  }

  ClusterCache cache_;
  FakeFanoutCounter counter_;
  std::map<std::string, nlohmann::json> creator_pods_;
  std::vector<std::string> rejected_;  // "namespace/workload" per reported rejection
  WebhookMetrics metrics_;
  AdmissionHandler handler_;
};

TEST_F(AdmissionHandlerTest, MutateAnswersTheRequestUidWithAPatch) {
  auto response = ResponseOf(handler_.Mutate(Post(testing::AgentPod())));
  EXPECT_EQ(response["uid"], "req-1");
  EXPECT_EQ(response["allowed"], true);
  EXPECT_EQ(response["patchType"], "JSONPatch");
}

TEST_F(AdmissionHandlerTest, BarePodRunIsTheRequestUid) {
  nlohmann::json pod = Injected(testing::AgentPod(), "req-77");
  EXPECT_EQ(pod["metadata"]["labels"]["agentbudget.io/run"], "req-77");
}

TEST_F(AdmissionHandlerTest, JobPodRunIsTheJobUid) {
  nlohmann::json pod = testing::AgentPod();
  pod["metadata"]["ownerReferences"] = {
      {{"kind", "Job"}, {"name", "j"}, {"uid", "job-uid-9"}, {"controller", true}}};
  EXPECT_EQ(Injected(pod, "req-2")["metadata"]["labels"]["agentbudget.io/run"], "job-uid-9");
}

TEST_F(AdmissionHandlerTest, CreatingPodFromTokenClaimsIsTheParentRun) {
  creator_pods_["payments/orchestrator"] =
      StoredPod("orchestrator", {{"agentbudget.io/run", "orchestrator-run"},
                                 {"agentbudget.io/workload", "pr-review"}});
  http::Request request = Post(testing::AgentPod());
  nlohmann::json review = nlohmann::json::parse(request.body);
  review["request"]["userInfo"]["extra"] = {
      {"authentication.kubernetes.io/pod-name", {"orchestrator"}}};
  auto decoded = DecodeAdmissionReview(review.dump());
  ASSERT_TRUE(decoded.ok());
  nlohmann::json pod = testing::AgentPod().patch(handler_.DecideMutation(*decoded).patch);
  EXPECT_EQ(pod["metadata"]["labels"]["agentbudget.io/parent-run"], "orchestrator-run");
}

TEST_F(AdmissionHandlerTest, UnknownNamespaceIsAllowedUnpatchedWithAWarning) {
  http::Request request = Post(testing::AgentPod());
  nlohmann::json review = nlohmann::json::parse(request.body);
  review["request"]["namespace"] = "elsewhere";
  request.body = review.dump();
  auto response = ResponseOf(handler_.Mutate(request));
  EXPECT_EQ(response["allowed"], true);
  EXPECT_FALSE(response.contains("patch"));
  EXPECT_EQ(response["warnings"].size(), 1u);
}

TEST_F(AdmissionHandlerTest, SubagentsBeyondMaxSubagentsAreDeniedWithTheCount) {
  for (int i = 0; i < 2; ++i) {
    nlohmann::json pod = Injected(SubagentPod(), "sub-" + std::to_string(i));
    auto response = ResponseOf(handler_.Validate(Post(pod, "Pod", "sub-" + std::to_string(i))));
    EXPECT_EQ(response["allowed"], true) << response.dump();
  }
  nlohmann::json pod = Injected(SubagentPod(), "sub-2");
  auto response = ResponseOf(handler_.Validate(Post(pod, "Pod", "sub-2")));
  EXPECT_EQ(response["allowed"], false);
  EXPECT_EQ(response["status"]["message"],
            "run parent-1 has already created 2 of 2 subagents (perRun.maxSubagents of "
            "AgentWorkload pr-review, onLimit: Reject)");
}

TEST_F(AdmissionHandlerTest, DenialAtTheCapIsReportedAgainstTheWorkload) {
  for (int i = 0; i < 3; ++i) {
    nlohmann::json pod = Injected(SubagentPod(), "sub-" + std::to_string(i));
    handler_.Validate(Post(pod, "Pod", "sub-" + std::to_string(i)));
  }
  EXPECT_EQ(rejected_, std::vector<std::string>{"payments/pr-review"});
}

TEST_F(AdmissionHandlerTest, DenialIsReportedAgainstTheParentsWorkloadWhoseCapDenied) {
  nlohmann::json orchestrators = testing::WorkloadJson();
  orchestrators["metadata"]["name"] = "orchestrators";
  orchestrators["spec"]["selector"] = {{"matchLabels", {{"role", "orchestrator"}}}};
  orchestrators["spec"]["perRun"]["maxSubagents"] = 1;
  ASSERT_TRUE(cache_.PutWorkload(orchestrators).ok());
  creator_pods_["payments/orchestrator"] =
      StoredPod("orchestrator", {{"agentbudget.io/run", "orchestrator-run"},
                                 {"agentbudget.io/workload", "orchestrators"}});
  for (const char* uid : {"sub-a", "sub-b"}) {
    AdmissionRequest request = FromOrchestrator(testing::AgentPod());
    request.uid = uid;
    request.object = request.object.patch(handler_.DecideMutation(request).patch);
    handler_.DecideValidation(request);
  }
  EXPECT_EQ(rejected_, std::vector<std::string>{"payments/orchestrators"});
}

TEST_F(AdmissionHandlerTest, SubagentJobRetriesAreBoundByItsOwnWorkload) {
  nlohmann::json orchestrators = testing::WorkloadJson();
  orchestrators["metadata"]["name"] = "orchestrators";
  orchestrators["spec"]["selector"] = {{"matchLabels", {{"role", "orchestrator"}}}};
  orchestrators["spec"]["perRun"]["maxRetries"] = 0;
  ASSERT_TRUE(cache_.PutWorkload(orchestrators).ok());
  nlohmann::json own = testing::WorkloadJson();
  own["spec"]["perRun"]["maxRetries"] = 3;
  ASSERT_TRUE(cache_.PutWorkload(own).ok());
  creator_pods_["payments/orchestrator"] =
      StoredPod("orchestrator", {{"agentbudget.io/run", "orchestrator-run"},
                                 {"agentbudget.io/workload", "orchestrators"}});
  nlohmann::json job = testing::AgentJob();
  job["spec"]["backoffLimit"] = 6;
  http::Request request = Post(job, "Job");
  nlohmann::json review = nlohmann::json::parse(request.body);
  review["request"]["userInfo"]["extra"] = {
      {"authentication.kubernetes.io/pod-name", {"orchestrator"}}};
  auto decoded = DecodeAdmissionReview(review.dump());
  ASSERT_TRUE(decoded.ok());
  nlohmann::json out = job.patch(handler_.DecideMutation(*decoded).patch);
  EXPECT_EQ(out["metadata"]["labels"]["agentbudget.io/parent-run"], "orchestrator-run");
  EXPECT_EQ(out["spec"]["backoffLimit"], 3);
}

TEST_F(AdmissionHandlerTest, DryRunDenialIsNotReported) {
  for (int i = 0; i < 2; ++i) {
    nlohmann::json pod = Injected(SubagentPod(), "sub-" + std::to_string(i));
    handler_.Validate(Post(pod, "Pod", "sub-" + std::to_string(i)));
  }
  nlohmann::json pod = Injected(SubagentPod(), "dry");
  http::Request request = Post(pod, "Pod", "dry");
  nlohmann::json review = nlohmann::json::parse(request.body);
  review["request"]["dryRun"] = true;
  request.body = review.dump();
  EXPECT_EQ(ResponseOf(handler_.Validate(request))["allowed"], false);
  EXPECT_TRUE(rejected_.empty());
}

TEST_F(AdmissionHandlerTest, DryRunDoesNotTakeASlot) {
  nlohmann::json pod = Injected(SubagentPod(), "dry");
  http::Request request = Post(pod, "Pod", "dry");
  nlohmann::json review = nlohmann::json::parse(request.body);
  review["request"]["dryRun"] = true;
  request.body = review.dump();
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(ResponseOf(handler_.Validate(request))["allowed"], true);
  }
  // Both real slots are still free.
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(ResponseOf(handler_.Validate(Post(pod, "Pod", "real")))["allowed"], true);
  }
}

TEST_F(AdmissionHandlerTest, ClaimNamesTheObjectAndTheAdmissionThatTakesTheSlot) {
  nlohmann::json pod = Injected(SubagentPod(), "sub-a");
  auto decoded = DecodeAdmissionReview(Post(pod, "Pod", "sub-a").body);
  ASSERT_TRUE(decoded.ok());
  const auto received = std::chrono::steady_clock::now() - std::chrono::milliseconds(700);
  EXPECT_TRUE(handler_.DecideValidation(*decoded, received).allowed);
  EXPECT_EQ(counter_.last.parent_run, "parent-1");
  EXPECT_EQ(counter_.last.kind, "Pod");
  EXPECT_EQ(counter_.last.name, "agent-1");
  EXPECT_EQ(counter_.last.claim_uid, "sub-a");
  EXPECT_EQ(counter_.last.received, received);
  // The parent run came from a label: its object is unknown, so the count has no owner.
  EXPECT_TRUE(counter_.last.owner.is_null());
}

TEST_F(AdmissionHandlerTest, CountOfASubagentOfAJobPodIsOwnedByTheJob) {
  nlohmann::json creator = StoredPod("orchestrator", {{"agentbudget.io/run", "job-uid-1"},
                                                      {"agentbudget.io/workload", "pr-review"}});
  creator["metadata"]["ownerReferences"] = {{{"apiVersion", "batch/v1"},
                                             {"kind", "Job"},
                                             {"name", "review-42"},
                                             {"uid", "job-uid-1"},
                                             {"controller", true}}};
  creator_pods_["payments/orchestrator"] = creator;
  AdmissionRequest request = FromOrchestrator(testing::AgentPod());
  request.object = request.object.patch(handler_.DecideMutation(request).patch);
  EXPECT_TRUE(handler_.DecideValidation(request).allowed);
  EXPECT_EQ(counter_.last.parent_run, "job-uid-1");
  EXPECT_EQ(counter_.last.owner, (nlohmann::json{{"apiVersion", "batch/v1"},
                                                 {"kind", "Job"},
                                                 {"name", "review-42"},
                                                 {"uid", "job-uid-1"}}));
}

TEST_F(AdmissionHandlerTest, CountOfASubagentOfABarePodIsOwnedByThePod) {
  creator_pods_["payments/orchestrator"] =
      StoredPod("orchestrator", {{"agentbudget.io/run", "bare-run"},
                                 {"agentbudget.io/workload", "pr-review"}});
  AdmissionRequest request = FromOrchestrator(testing::AgentPod());
  request.object = request.object.patch(handler_.DecideMutation(request).patch);
  EXPECT_TRUE(handler_.DecideValidation(request).allowed);
  EXPECT_EQ(counter_.last.parent_run, "bare-run");
  EXPECT_EQ(counter_.last.owner, (nlohmann::json{{"apiVersion", "v1"},
                                                 {"kind", "Pod"},
                                                 {"name", "orchestrator"},
                                                 {"uid", "orchestrator-uid"}}));
}

TEST_F(AdmissionHandlerTest, PodsOfAJobAreNotCountedAgain) {
  nlohmann::json pod = SubagentPod();
  pod["metadata"]["ownerReferences"] = {
      {{"kind", "Job"}, {"name", "j"}, {"uid", "job-uid"}, {"controller", true}}};
  pod = Injected(pod, "p");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ResponseOf(handler_.Validate(Post(pod, "Pod", "p")))["allowed"], true);
  }
  EXPECT_EQ(counter_.calls, 0);
}

TEST_F(AdmissionHandlerTest, WrongContentTypeIsRefusedWith415) {
  http::Request request = Post(testing::AgentPod());
  request.headers["Content-Type"] = "text/plain";
  EXPECT_EQ(handler_.Mutate(request).status, 415);
}

TEST_F(AdmissionHandlerTest, UndecodableReviewIsRefusedWith400AndTheReason) {
  http::Request request = Post(testing::AgentPod());
  request.body = "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}";
  http::Response response = handler_.Validate(request);
  EXPECT_EQ(response.status, 400);
  EXPECT_NE(response.body.find("request is missing"), std::string::npos);
}

TEST_F(AdmissionHandlerTest, InvalidAgentWorkloadIsDenied) {
  nlohmann::json w = testing::WorkloadJson();
  w["spec"]["perRun"]["maxRuntime"] = "soon";
  http::Request request = Post(w, "AgentWorkload");
  nlohmann::json review = nlohmann::json::parse(request.body);
  review["request"]["kind"]["group"] = "agentbudget.io";
  request.body = review.dump();
  auto response = ResponseOf(handler_.Validate(request));
  EXPECT_EQ(response["allowed"], false);
  EXPECT_EQ(response["status"]["reason"], "Invalid");
}

TEST_F(AdmissionHandlerTest, UpdatesOfPodsAreAllowedUntouched) {
  http::Request request = Post(testing::AgentPod());
  nlohmann::json review = nlohmann::json::parse(request.body);
  review["request"]["operation"] = "UPDATE";
  request.body = review.dump();
  auto response = ResponseOf(handler_.Mutate(request));
  EXPECT_EQ(response["allowed"], true);
  EXPECT_FALSE(response.contains("patch"));
}

TEST_F(AdmissionHandlerTest, MetricsRecordPatchesAndDenials) {
  handler_.Mutate(Post(testing::AgentPod()));
  handler_.Validate(Post(testing::AgentPod()));  // no meter: denied
  auto families = metrics_.registry()->Collect();
  double patches = 0;
  double denials = 0;
  for (const auto& family : families) {
    for (const auto& metric : family.metric) {
      if (family.name == "agentbudget_webhook_patches_total") {
        patches += metric.counter.value;
      }
      if (family.name == "agentbudget_webhook_denials_total") {
        denials += metric.counter.value;
      }
    }
  }
  EXPECT_EQ(patches, 1);
  EXPECT_EQ(denials, 1);
}

}  // namespace
}  // namespace agentbudget::webhook
