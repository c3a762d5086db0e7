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

// A wall clock that stands still.
class FixedClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::time_point();
  }
};

constexpr char kTenant[] = "system:serviceaccount:payments:agent";
constexpr char kCi[] = "ci-bot";                 // a trusted creator
constexpr char kOperator[] = "the-operator";     // exempt from the UPDATE rules
constexpr char kJobController[] = "job-controller";
constexpr char kAuthorityCa[] = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";

AccessPolicy Policy() {
  AccessPolicy policy;
  policy.operator_users = IdentityList::Parse(kOperator).value();
  policy.job_controller_users = IdentityList::Parse(kJobController).value();
  policy.trusted_creators = IdentityList::Parse(kCi).value();
  return policy;
}

class AdmissionHandlerTest : public ::testing::Test {
 protected:
  AdmissionHandlerTest()
      : metrics_(std::make_shared<prometheus::Registry>()),
        handler_(cache_, counter_, Pods(), MeterSettings{}, metrics_,
                 [this](const std::string& ns, const std::string& name) {
                   rejected_.push_back(ns + "/" + name);
                 },
                 Policy(), [] { return std::string(kAuthorityCa); }, clock_) {
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
                            const std::string& uid = "req-1",
                            const std::string& username = kTenant) {
    nlohmann::json review = {
        {"apiVersion", "admission.k8s.io/v1"},
        {"kind", "AdmissionReview"},
        {"request",
         {{"uid", uid},
          {"kind", {{"group", kind == "Job" ? "batch" : ""}, {"version", "v1"}, {"kind", kind}}},
          {"namespace", "payments"},
          {"operation", "CREATE"},
          {"userInfo", {{"username", username}, {"groups", {"system:authenticated"}}}},
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

  // `object` as the mutating webhook leaves it for a request `uid` by `username`.
  nlohmann::json Injected(const nlohmann::json& object, const std::string& uid,
                          const std::string& username = kTenant,
                          const std::string& kind = "Pod") {
    auto response = ResponseOf(handler_.Mutate(Post(object, kind, uid, username)));
    EXPECT_TRUE(response.contains("patch")) << response.dump();
    auto decoded = DecodeAdmissionReview(Post(object, kind, uid, username).body);
    return object.patch(handler_.DecideMutation(*decoded).patch);
  }

  // An UPDATE of `old_object` into `object` by `username`.
  static AdmissionRequest Update(const nlohmann::json& old_object, const nlohmann::json& object,
                                 const std::string& username, const std::string& kind = "Job",
                                 const std::string& subresource = "") {
    AdmissionRequest request =
        *DecodeAdmissionReview(Post(object, kind, "upd-1", username).body);
    request.operation = "UPDATE";
    request.old_object = old_object;
    request.subresource = subresource;
    return request;
  }

  static nlohmann::json SubagentJob() {
    nlohmann::json job = testing::AgentJob();
    job["metadata"]["labels"]["agentbudget.io/parent-run"] = "parent-1";
    return job;
  }

  FixedClock clock_;
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
  EXPECT_EQ(Injected(pod, "req-2", kJobController)["metadata"]["labels"]["agentbudget.io/run"],
            "job-uid-9");
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
    nlohmann::json job = Injected(SubagentJob(), "sub-" + std::to_string(i), kCi, "Job");
    auto response =
        ResponseOf(handler_.Validate(Post(job, "Job", "sub-" + std::to_string(i), kCi)));
    EXPECT_EQ(response["allowed"], true) << response.dump();
  }
  nlohmann::json job = Injected(SubagentJob(), "sub-2", kCi, "Job");
  auto response = ResponseOf(handler_.Validate(Post(job, "Job", "sub-2", kCi)));
  EXPECT_EQ(response["allowed"], false);
  EXPECT_EQ(response["status"]["message"],
            "run parent-1 has already created 2 of 2 subagents (perRun.maxSubagents of "
            "AgentWorkload pr-review, onLimit: Reject) (rule max-subagents); finish or delete "
            "the run, or raise perRun.maxSubagents");
}

TEST_F(AdmissionHandlerTest, DenialAtTheCapIsReportedAgainstTheWorkload) {
  for (int i = 0; i < 3; ++i) {
    nlohmann::json job = Injected(SubagentJob(), "sub-" + std::to_string(i), kCi, "Job");
    handler_.Validate(Post(job, "Job", "sub-" + std::to_string(i), kCi));
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
    nlohmann::json job = Injected(SubagentJob(), "sub-" + std::to_string(i), kCi, "Job");
    handler_.Validate(Post(job, "Job", "sub-" + std::to_string(i), kCi));
  }
  nlohmann::json job = Injected(SubagentJob(), "dry", kCi, "Job");
  http::Request request = Post(job, "Job", "dry", kCi);
  nlohmann::json review = nlohmann::json::parse(request.body);
  review["request"]["dryRun"] = true;
  request.body = review.dump();
  EXPECT_EQ(ResponseOf(handler_.Validate(request))["allowed"], false);
  EXPECT_TRUE(rejected_.empty());
}

TEST_F(AdmissionHandlerTest, DryRunDoesNotTakeASlot) {
  nlohmann::json pod = Injected(SubagentPod(), "dry", kCi);
  http::Request request = Post(pod, "Pod", "dry", kCi);
  nlohmann::json review = nlohmann::json::parse(request.body);
  review["request"]["dryRun"] = true;
  request.body = review.dump();
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(ResponseOf(handler_.Validate(request))["allowed"], true);
  }
  // Both real slots are still free.
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(ResponseOf(handler_.Validate(Post(pod, "Pod", "real", kCi)))["allowed"], true);
  }
}

TEST_F(AdmissionHandlerTest, ClaimNamesTheObjectAndTheAdmissionThatTakesTheSlot) {
  nlohmann::json pod = Injected(SubagentPod(), "sub-a", kCi);
  auto decoded = DecodeAdmissionReview(Post(pod, "Pod", "sub-a", kCi).body);
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
  pod = Injected(pod, "p", kJobController);
  for (int i = 0; i < 3; ++i) {
    auto response = ResponseOf(handler_.Validate(Post(pod, "Pod", "p", kJobController)));
    EXPECT_EQ(response["allowed"], true) << response.dump();
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

TEST_F(AdmissionHandlerTest, ABarePodInjectedByOneRequestPassesValidationByAnother) {
  nlohmann::json pod = Injected(testing::AgentPod(), "mutation-uid");
  auto response = ResponseOf(handler_.Validate(Post(pod, "Pod", "validation-uid")));
  EXPECT_EQ(response["allowed"], true) << response.dump();
}

TEST_F(AdmissionHandlerTest, AnyoneIsChargedAsThemselvesWhateverTheirLabelSays) {
  nlohmann::json pod = testing::AgentPod();
  pod["metadata"]["labels"]["agentbudget.io/user"] = "alice";
  pod["metadata"]["labels"]["agentbudget.io/parent-run"] = "someone-elses-run";
  nlohmann::json out = Injected(pod, "req-1");
  EXPECT_EQ(out["metadata"]["labels"]["agentbudget.io/user"], "system-serviceaccount-payments-agent");
  EXPECT_FALSE(out["metadata"]["labels"].contains("agentbudget.io/parent-run"));
}

TEST_F(AdmissionHandlerTest, ATrustedCreatorsUserAndParentLabelsAreHonoured) {
  nlohmann::json pod = testing::AgentPod();
  pod["metadata"]["labels"]["agentbudget.io/user"] = "alice";
  pod["metadata"]["labels"]["agentbudget.io/parent-run"] = "ci-run-7";
  nlohmann::json out = Injected(pod, "req-1", kCi);
  EXPECT_EQ(out["metadata"]["labels"]["agentbudget.io/user"], "alice");
  EXPECT_EQ(out["metadata"]["labels"]["agentbudget.io/parent-run"], "ci-run-7");
  EXPECT_EQ(ResponseOf(handler_.Validate(Post(out, "Pod", "v", kCi)))["allowed"], true);
}

TEST_F(AdmissionHandlerTest, AJobsPodsAreChargedAsItsTemplateSays) {
  nlohmann::json job = testing::AgentJob();
  job["metadata"]["labels"]["agentbudget.io/user"] = "alice";
  job = Injected(job, "job-req", kCi, "Job");
  nlohmann::json pod = testing::AgentPod();
  pod["metadata"]["labels"] = job["spec"]["template"]["metadata"]["labels"];
  pod["metadata"]["ownerReferences"] = {
      {{"kind", "Job"}, {"name", "review-42"}, {"uid", "job-uid"}, {"controller", true}}};
  nlohmann::json out = Injected(pod, "pod-req", kJobController);
  EXPECT_EQ(out["metadata"]["labels"]["agentbudget.io/user"], "alice");
  EXPECT_EQ(ResponseOf(handler_.Validate(Post(out, "Pod", "v", kJobController)))["allowed"],
            true);
}

TEST_F(AdmissionHandlerTest, APodClaimingAJobOwnerFromAnyoneElseIsRefused) {
  nlohmann::json pod = testing::AgentPod();
  pod["metadata"]["ownerReferences"] = {
      {{"kind", "Job"}, {"name", "review-42"}, {"uid", "job-uid"}, {"controller", true}}};
  auto response = ResponseOf(handler_.Mutate(Post(pod)));
  EXPECT_EQ(response["allowed"], false);
  EXPECT_NE(response["status"]["message"].get<std::string>().find("(rule job-owner)"),
            std::string::npos);
}

TEST_F(AdmissionHandlerTest, ATokenOfAnotherPodOfTheSameNameIsNoParent) {
  creator_pods_["payments/orchestrator"] =
      StoredPod("orchestrator", {{"agentbudget.io/run", "orchestrator-run"}});
  AdmissionRequest request = FromOrchestrator(testing::AgentPod());
  request.user_extra["authentication.kubernetes.io/pod-uid"] = {"a-deleted-pods-uid"};
  nlohmann::json out = request.object.patch(handler_.DecideMutation(request).patch);
  EXPECT_FALSE(out["metadata"]["labels"].contains("agentbudget.io/parent-run"));
  request.user_extra["authentication.kubernetes.io/pod-uid"] = {"orchestrator-uid"};
  out = request.object.patch(handler_.DecideMutation(request).patch);
  EXPECT_EQ(out["metadata"]["labels"]["agentbudget.io/parent-run"], "orchestrator-run");
}

TEST_F(AdmissionHandlerTest, TheMeterTrustsTheAuthorityCaOfTheMoment) {
  nlohmann::json pod = Injected(testing::AgentPod(), "req-1");
  bool found = false;
  for (const nlohmann::json& e : pod["spec"]["initContainers"][0]["env"]) {
    found = found || (e["name"] == "AGENTBUDGET_AUTHORITY_CA" && e["value"] == kAuthorityCa);
  }
  EXPECT_TRUE(found);
}

TEST_F(AdmissionHandlerTest, OnlyTheOperatorReleasesAHeldJob) {
  nlohmann::json held = Injected(testing::AgentJob(), "j", kCi, "Job");
  nlohmann::json released = held;
  released["spec"]["suspend"] = false;
  AdmissionDecision tenant = handler_.DecideValidation(Update(held, released, kTenant));
  EXPECT_FALSE(tenant.allowed);
  EXPECT_NE(tenant.message.find("(rule held-job)"), std::string::npos) << tenant.message;
  EXPECT_TRUE(handler_.DecideValidation(Update(held, released, kOperator)).allowed);
  // The Job controller and the trusted CI identity are no operator.
  EXPECT_FALSE(handler_.DecideValidation(Update(held, released, kJobController)).allowed);
  EXPECT_FALSE(handler_.DecideValidation(Update(held, released, kCi)).allowed);
}

TEST_F(AdmissionHandlerTest, AnApproversApprovalIsRecordedAndATenantsRefused) {
  nlohmann::json w = testing::WorkloadJson();
  w["spec"]["approval"] = {{"required", true}, {"approvers", {{"users", {"alice"}}}}};
  ASSERT_TRUE(cache_.PutWorkload(w).ok());
  nlohmann::json held = Injected(testing::AgentJob(), "j", kCi, "Job");
  nlohmann::json annotated = held;
  annotated["metadata"]["annotations"]["agentbudget.io/approved-by"] = "yes";
  for (const char* user : {"alice", kTenant}) {
    AdmissionRequest request = Update(held, annotated, user);
    request.object = annotated.patch(handler_.DecideMutation(request).patch);
    EXPECT_EQ(request.object["metadata"]["annotations"]["agentbudget.io/approved-by"], user);
    EXPECT_EQ(request.object["metadata"]["annotations"]["agentbudget.io/approved-at"],
              "2027-01-15T08:00:00Z");
    AdmissionDecision d = handler_.DecideValidation(request);
    EXPECT_EQ(d.allowed, user == std::string("alice")) << d.message;
  }
}

TEST_F(AdmissionHandlerTest, TheOperatorsUpdatesAreNotRewritten) {
  nlohmann::json held = Injected(testing::AgentJob(), "j", kCi, "Job");
  nlohmann::json annotated = held;
  annotated["metadata"]["annotations"]["agentbudget.io/approved-by"] = "yes";
  EXPECT_TRUE(handler_.DecideMutation(Update(held, annotated, kOperator)).patch.empty());
}

TEST_F(AdmissionHandlerTest, AnEphemeralContainerOnTheMeterIsRefused) {
  nlohmann::json pod = Injected(testing::AgentPod(), "req-1");
  nlohmann::json debugged = pod;
  debugged["spec"]["ephemeralContainers"] = {
      {{"name", "peek"}, {"image", "busybox"}, {"targetContainerName", "agentbudget-meter"}}};
  AdmissionDecision d = handler_.DecideValidation(
      Update(pod, debugged, kTenant, "Pod", "ephemeralcontainers"));
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.message.find("(rule ephemeral-container)"), std::string::npos) << d.message;
  EXPECT_TRUE(handler_
                  .DecideValidation(Update(pod, debugged, kOperator, "Pod", "ephemeralcontainers"))
                  .allowed);
}

}  // namespace
}  // namespace agentbudget::webhook
