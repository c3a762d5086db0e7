#include "operator/queue/queue_object.h"

#include <gtest/gtest.h>

namespace agentbudget::queue {
namespace {

using nlohmann::json;

json HeldJob() {
  return json::parse(R"({
    "kind": "Job", "apiVersion": "batch/v1",
    "metadata": {"name": "review-1", "namespace": "ci", "uid": "u-1", "resourceVersion": "7",
                 "creationTimestamp": "2026-11-27T10:00:00Z",
                 "labels": {"agentbudget.io/workload": "review", "agentbudget.io/priority": "Deferrable",
                            "agentbudget.io/parent-run": "u-0"},
                 "annotations": {"agentbudget.io/queue": "{\"state\":\"Pending\",\"reason\":\"AwaitingAdmission\"}"}},
    "spec": {"suspend": true, "activeDeadlineSeconds": 7200}})");
}

json GatedPod() {
  return json::parse(R"({
    "kind": "Pod", "apiVersion": "v1",
    "metadata": {"name": "agent", "namespace": "ci", "uid": "p-1", "resourceVersion": "9",
                 "labels": {"agentbudget.io/workload": "review", "agentbudget.io/run": "run-9"}},
    "spec": {"schedulingGates": [{"name": "other"}, {"name": "agentbudget.io/admission"}]}})");
}

TEST(QueueObjectTest, SuspendedJobWithTheWebhooksAnnotationIsHeld) {
  const QueueObject item = ReadQueueObject(HeldJob(), QueueObject::Kind::kJob);
  EXPECT_EQ(item.state, QueueState::kHeld);
  EXPECT_EQ(item.key, "ci/review-1");
  EXPECT_EQ(item.workload, "ci/review");
  EXPECT_EQ(item.run, "u-1");
  EXPECT_EQ(item.parent_run, "u-0");
  EXPECT_EQ(item.priority, core::WorkPriority::kDeferrable);
  EXPECT_EQ(item.created_millis, 1795773600000);
  EXPECT_EQ(item.annotation->reason, "AwaitingAdmission");
}

TEST(QueueObjectTest, PriorityIsUnsetWithoutTheLabelSoTheWorkloadsApplies) {
  json job = HeldJob();
  job["metadata"]["labels"].erase("agentbudget.io/priority");
  EXPECT_FALSE(ReadQueueObject(job, QueueObject::Kind::kJob).priority.has_value());
}

TEST(QueueObjectTest, JobWithoutQueueAnnotationIsUngoverned) {
  json job = HeldJob();
  job["metadata"]["annotations"].erase("agentbudget.io/queue");
  EXPECT_EQ(ReadQueueObject(job, QueueObject::Kind::kJob).state, QueueState::kUngoverned);
}

TEST(QueueObjectTest, MalformedAnnotationReadsAsAbsent) {
  json job = HeldJob();
  job["metadata"]["annotations"]["agentbudget.io/queue"] = "{not json";
  EXPECT_EQ(ReadQueueObject(job, QueueObject::Kind::kJob).state, QueueState::kUngoverned);
  EXPECT_FALSE(DecodeQueueAnnotation("[1]").has_value());
}

TEST(QueueObjectTest, AdmittedJobRunsUntilACompletionCondition) {
  json job = HeldJob();
  job["spec"]["suspend"] = false;
  job["metadata"]["annotations"]["agentbudget.io/queue"] = R"({"state":"Admitted"})";
  EXPECT_EQ(ReadQueueObject(job, QueueObject::Kind::kJob).state, QueueState::kRunning);
  job["status"]["conditions"] = json::parse(R"([{"type":"Complete","status":"True"}])");
  const QueueObject done = ReadQueueObject(job, QueueObject::Kind::kJob);
  EXPECT_EQ(done.state, QueueState::kFinished);
  EXPECT_TRUE(done.succeeded);
}

TEST(QueueObjectTest, RecordedJobKeepsItsOutcome) {
  json job = HeldJob();
  job["metadata"]["annotations"]["agentbudget.io/queue"] =
      R"({"state":"Finished","outcome":"Failed"})";
  const QueueObject item = ReadQueueObject(job, QueueObject::Kind::kJob);
  EXPECT_EQ(item.state, QueueState::kRecorded);
  EXPECT_FALSE(item.succeeded);
}

TEST(QueueObjectTest, AdmitPatchUnsuspendsAndCapsTheDeadlineUnderTheVersionRead) {
  const QueueObject item = ReadQueueObject(HeldJob(), QueueObject::Kind::kJob);
  const json patch = AdmitPatch(item, json(), 1800);
  EXPECT_EQ(patch["metadata"]["resourceVersion"], "7");
  EXPECT_EQ(patch["spec"]["suspend"], false);
  EXPECT_EQ(patch["spec"]["activeDeadlineSeconds"], 1800);
  EXPECT_EQ(patch["metadata"]["annotations"]["agentbudget.io/queue"], R"({"state":"Admitted"})");
}

TEST(QueueObjectTest, AdmitPatchKeepsAShorterDeadline) {
  const QueueObject item = ReadQueueObject(HeldJob(), QueueObject::Kind::kJob);
  EXPECT_FALSE(AdmitPatch(item, json(), 9000)["spec"].contains("activeDeadlineSeconds"));
}

TEST(QueueObjectTest, StopPatchEndsARunningJobAtTheSecondsItHasRun) {
  json job = HeldJob();
  job["spec"]["suspend"] = false;
  job["status"]["startTime"] = "2026-11-27T10:00:00Z";
  const QueueObject item = ReadQueueObject(job, QueueObject::Kind::kJob);
  ASSERT_TRUE(item.start_seconds.has_value());
  const int64_t started = *item.start_seconds;
  const auto patch = StopPatch(item, started + 95);
  ASSERT_TRUE(patch.has_value());
  EXPECT_EQ((*patch)["spec"]["activeDeadlineSeconds"], 95);
  EXPECT_EQ((*patch)["metadata"]["resourceVersion"], "7");
  // Stopped in its first second: the shortest deadline the API accepts.
  EXPECT_EQ((*StopPatch(item, started))["spec"]["activeDeadlineSeconds"], 1);
}

TEST(QueueObjectTest, StopPatchLeavesARunThatHasNotStartedOrIsAlreadyEnding) {
  const QueueObject unstarted = ReadQueueObject(HeldJob(), QueueObject::Kind::kJob);
  EXPECT_FALSE(StopPatch(unstarted, 1'800'000'000).has_value());
  json job = HeldJob();
  job["status"]["startTime"] = "2026-11-27T10:00:00Z";
  job["spec"]["activeDeadlineSeconds"] = 60;
  const QueueObject ending = ReadQueueObject(job, QueueObject::Kind::kJob);
  EXPECT_FALSE(StopPatch(ending, *ending.start_seconds + 95).has_value());
}

TEST(QueueObjectTest, GatedPodIsHeldAndAdmissionRemovesOnlyOurGate) {
  const json pod = GatedPod();
  const QueueObject item = ReadQueueObject(pod, QueueObject::Kind::kPod);
  EXPECT_EQ(item.state, QueueState::kHeld);
  EXPECT_EQ(item.run, "run-9");
  const json patch = AdmitPatch(item, pod, std::nullopt);
  EXPECT_EQ(patch["spec"]["schedulingGates"], json::parse(R"([{"name":"other"}])"));
}

TEST(QueueObjectTest, JobOwnedPodIsCountedThroughItsJob) {
  json pod = GatedPod();
  pod["metadata"]["ownerReferences"] = json::parse(R"([{"kind":"Job","name":"x"}])");
  EXPECT_EQ(ReadQueueObject(pod, QueueObject::Kind::kPod).state, QueueState::kUngoverned);
}

TEST(QueueObjectTest, SuspendPatchReturnsTheJobToTheQueueWithItsReason) {
  json job = HeldJob();
  job["spec"]["suspend"] = false;
  const QueueObject item = ReadQueueObject(job, QueueObject::Kind::kJob);
  const json patch = SuspendPatch(item, QueueAnnotation::Pending("BudgetPressure", 0, ""));
  EXPECT_EQ(patch["spec"]["suspend"], true);
  EXPECT_EQ(patch["metadata"]["resourceVersion"], "7");
  const auto annotation = DecodeQueueAnnotation(
      patch["metadata"]["annotations"]["agentbudget.io/queue"].get<std::string>());
  EXPECT_EQ(annotation->reason, "BudgetPressure");
}

TEST(QueueObjectTest, AnnotationRoundTrips) {
  const QueueAnnotation held =
      QueueAnnotation::Pending("WaitingForParallelism", 3, "workload ci/review has 10 runs");
  EXPECT_EQ(DecodeQueueAnnotation(held.Encode()), held);
}

TEST(QueueObjectTest, ApprovalNeedsBothApprovedByAndApprovedAt) {
  json job = HeldJob();
  job["metadata"]["annotations"]["agentbudget.io/approved-by"] = "alice";
  EXPECT_FALSE(ReadQueueObject(job, QueueObject::Kind::kJob).approved);
  job["metadata"]["annotations"]["agentbudget.io/approved-at"] = "2026-11-27T10:05:00Z";
  const QueueObject item = ReadQueueObject(job, QueueObject::Kind::kJob);
  EXPECT_TRUE(item.approved);
  EXPECT_EQ(item.approved_by, "alice");
  EXPECT_EQ(item.approved_at, "2026-11-27T10:05:00Z");
  job["metadata"]["annotations"]["agentbudget.io/approved-by"] = "";
  EXPECT_FALSE(ReadQueueObject(job, QueueObject::Kind::kJob).approved);
}

TEST(QueueObjectTest, OnlyAnUnfinishedUnsuspendedJobWithoutAnAdmissionRunsWithoutOne) {
  json job = HeldJob();
  EXPECT_FALSE(RunsWithoutAdmission(job)) << "held";
  job["spec"]["suspend"] = false;
  EXPECT_TRUE(RunsWithoutAdmission(job)) << "unsuspended by hand while Pending";
  job["spec"].erase("suspend");
  EXPECT_TRUE(RunsWithoutAdmission(job)) << "suspend absent is false";
  job["metadata"]["annotations"].erase("agentbudget.io/queue");
  EXPECT_TRUE(RunsWithoutAdmission(job)) << "never seen by the webhook";
  job["metadata"]["annotations"]["agentbudget.io/queue"] = "{not json";
  EXPECT_TRUE(RunsWithoutAdmission(job)) << "a malformed annotation is no admission";
  job["metadata"]["annotations"]["agentbudget.io/queue"] = R"({"state":"Admitted"})";
  EXPECT_FALSE(RunsWithoutAdmission(job)) << "admitted";
  job["metadata"]["annotations"].erase("agentbudget.io/queue");
  job["status"]["conditions"] = json::parse(R"([{"type":"Failed","status":"True"}])");
  EXPECT_FALSE(RunsWithoutAdmission(job)) << "finished";
  EXPECT_FALSE(RunsWithoutAdmission(json("not an object")));
}

TEST(QueueObjectTest, OnlyARunningPodWithoutTheMeterInitContainerRunsWithoutIt) {
  json pod = GatedPod();
  pod["status"]["phase"] = "Running";
  EXPECT_TRUE(RunsWithoutMeter(pod));
  pod["spec"]["initContainers"] = json::parse(R"([{"name":"setup"}])");
  EXPECT_TRUE(RunsWithoutMeter(pod));
  pod["spec"]["initContainers"].push_back({{"name", "agentbudget-meter"}});
  EXPECT_FALSE(RunsWithoutMeter(pod));
  pod["spec"].erase("initContainers");
  pod["status"]["phase"] = "Succeeded";
  EXPECT_FALSE(RunsWithoutMeter(pod)) << "not running";
  pod["status"]["phase"] = "Running";
  pod["metadata"]["annotations"]["kubernetes.io/config.mirror"] = "abc";
  EXPECT_FALSE(RunsWithoutMeter(pod)) << "a mirror pod";
  EXPECT_FALSE(RunsWithoutMeter(json::array()));
}

TEST(QueueObjectTest, SuspendPatchCanLabelTheJobForItsWorkload) {
  json job = HeldJob();
  job["spec"]["suspend"] = false;
  const QueueObject item = ReadQueueObject(job, QueueObject::Kind::kJob);
  const QueueAnnotation held = QueueAnnotation::Pending("NotAdmitted", 0, "");
  EXPECT_FALSE(SuspendPatch(item, held)["metadata"].contains("labels"));
  EXPECT_EQ(SuspendPatch(item, held, "agents")["metadata"]["labels"]["agentbudget.io/workload"],
            "agents");
}

}  // namespace
}  // namespace agentbudget::queue
