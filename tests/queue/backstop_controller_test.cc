#include "operator/queue/backstop_controller.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/queue/queue_fixture.h"

namespace agentbudget::queue {
namespace {

using nlohmann::json;
using testing::QueueFixture;

constexpr char kWorkload[] = "team-a/agents";

// A Job as its creator wrote it, which the webhook never saw: running, no queue annotation.
json RunningJob(const std::string& name, const json& labels = {{"app", "agent"}}) {
  return {{"apiVersion", "batch/v1"},
          {"kind", "Job"},
          {"metadata", {{"name", name}, {"namespace", "team-a"}, {"labels", labels}}},
          {"spec", {{"suspend", false}}}};
}

json RunningPod(const std::string& name, const json& init = json::array()) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "team-a"}, {"labels", {{"app", "agent"}}}}},
          {"spec",
           {{"initContainers", init}, {"containers", {{{"name", "agent"}, {"image", "agent"}}}}}},
          {"status", {{"phase", "Running"}}}};
}

class BackstopControllerTest : public QueueFixture {
 protected:
  // Team a's namespace (opted in unless told) with one workload selecting app=agent.
  void Seed(bool opted_in = true) {
    PutNamespace("team-a", opted_in);
    PutWorkload("team-a", "agents", {{"app", "agent"}});
  }

  json Job(const std::string& name) {
    return *cluster_.Get(kube::resources::kJobs, "team-a", name);
  }
  json Conditions() {
    return (*cluster_.Get(v1alpha1::kAgentWorkloads, "team-a", "agents"))["status"].value(
        "conditions", json());
  }
  json Condition(const std::string& type) {
    for (const json& condition : Conditions()) {
      if (condition.value("type", "") == type) {
        return condition;
      }
    }
    return json();
  }
  void ReflectJob(const std::string& name) {
    Reflect(cache_.jobs(), kube::resources::kJobs, "team-a", name);
  }
  void ReflectPod(const std::string& name) {
    Reflect(cache_.pods(), kube::resources::kPods, "team-a", name);
  }
  void ReflectWorkload() {
    Reflect(cache_.workloads(), v1alpha1::kAgentWorkloads, "team-a", "agents");
  }

  RunCostAnomalies anomalies_{300};
  BackstopController backstop_{*client_, cache_, writer_, metrics_, anomalies_, clock_};
};

TEST_F(BackstopControllerTest, JobRunningWithoutAnAdmissionIsSuspendedLabelledAndQueued) {
  Seed();
  cluster_.Put(kube::resources::kJobs, RunningJob("sneaky"));
  Start();
  EXPECT_EQ(backstop_.ForJob(*cache_.jobs().store().Get("team-a/sneaky")),
            std::vector<std::string>{kWorkload});

  ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());

  const json job = Job("sneaky");
  EXPECT_EQ(job["spec"]["suspend"], true);
  EXPECT_EQ(job["metadata"]["labels"]["agentbudget.io/workload"], "agents");
  const auto annotation =
      DecodeQueueAnnotation(job["metadata"]["annotations"]["agentbudget.io/queue"]);
  ASSERT_TRUE(annotation.has_value());
  EXPECT_EQ(annotation->state, "Pending");
  EXPECT_EQ(annotation->reason, "NotAdmitted");
  const std::vector<json> events = Events("NotAdmitted");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "Warning");
  EXPECT_EQ(events[0]["involvedObject"]["name"], "sneaky");
  const std::string message = events[0]["message"];
  EXPECT_NE(message.find("job team-a/sneaky"), std::string::npos) << message;
  EXPECT_NE(message.find("(rule held-job)"), std::string::npos) << message;
  EXPECT_NE(Metrics().find("agentbudget_queue_resuspended_total 1"), std::string::npos);

  // Held and labelled, it is the admission queue's like any other held run.
  ReflectJob("sneaky");
  const std::vector<Entry> held = cache_.OfWorkload(kWorkload);
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].item.state, QueueState::kHeld);
}

TEST_F(BackstopControllerTest, ASuspensionIsNotRepeatedWhileTheCacheLagsBehindIt) {
  Seed();
  cluster_.Put(kube::resources::kJobs, RunningJob("sneaky"));
  Start();
  ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());
  ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());
  ReflectJob("sneaky");
  ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());
  EXPECT_EQ(std::ranges::count(cluster_.patches(),
                               "PATCH /apis/batch/v1/namespaces/team-a/jobs/sneaky"),
            1);
  EXPECT_EQ(Events("NotAdmitted").size(), 1u);
}

TEST_F(BackstopControllerTest, HeldJobUnsuspendedByHandIsSuspendedAgainUnderItsOwnLabel) {
  Seed();
  json job = RunningJob("held", {{"app", "agent"}, {"agentbudget.io/workload", "agents"}});
  job["metadata"]["annotations"]["agentbudget.io/queue"] =
      R"({"state":"Pending","reason":"BudgetPressure"})";
  cluster_.Put(kube::resources::kJobs, job);
  Start();
  ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());
  EXPECT_EQ(Job("held")["spec"]["suspend"], true);
  EXPECT_EQ(Events("NotAdmitted").size(), 1u);
}

TEST_F(BackstopControllerTest, GovernedJobWhoseOtherLabelsChangedStaysGoverned) {
  Seed();
  // The webhook labelled it; the tenant changed the label the selector matches.
  cluster_.Put(kube::resources::kJobs,
               RunningJob("relabelled", {{"app", "other"}, {"agentbudget.io/workload", "agents"}}));
  Start();
  ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());
  EXPECT_EQ(Job("relabelled")["spec"]["suspend"], true);
}

TEST_F(BackstopControllerTest, AdmittedFinishedSuspendedAndUnselectedJobsAreLeftAlone) {
  Seed();
  json admitted = RunningJob("admitted");
  admitted["metadata"]["annotations"]["agentbudget.io/queue"] = R"({"state":"Admitted"})";
  json finished = RunningJob("finished");
  finished["status"]["conditions"] = json::parse(R"([{"type":"Complete","status":"True"}])");
  json suspended = RunningJob("suspended");
  suspended["spec"]["suspend"] = true;
  for (const json& job : {admitted, finished, suspended, RunningJob("other", {{"app", "web"}})}) {
    cluster_.Put(kube::resources::kJobs, job);
  }
  Start();
  EXPECT_TRUE(backstop_.ForJob(admitted).empty());
  EXPECT_TRUE(backstop_.ForJob(RunningJob("other", {{"app", "web"}})).empty());
  ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());
  for (const std::string& patch : cluster_.patches()) {
    EXPECT_EQ(patch.find("/jobs/"), std::string::npos) << patch;
  }
  EXPECT_TRUE(Events("NotAdmitted").empty());
}

TEST_F(BackstopControllerTest, JobOlderThanTheOptInIsSuspendedOnceTheNamespaceOptsIn) {
  Seed(/*opted_in=*/false);
  cluster_.Put(kube::resources::kJobs, RunningJob("early"));
  Start();
  EXPECT_TRUE(backstop_.ForJob(*cache_.jobs().store().Get("team-a/early")).empty());
  ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());
  EXPECT_EQ(Job("early")["spec"]["suspend"], false);

  const json ns = PutNamespace("team-a", /*opted_in=*/true);
  Reflect(cache_.namespaces(), kube::resources::kNamespaces, "", "team-a");
  EXPECT_EQ(backstop_.ForNamespace(ns), std::vector<std::string>{kWorkload});
  ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());
  EXPECT_EQ(Job("early")["spec"]["suspend"], true);
}

TEST_F(BackstopControllerTest, JobOlderThanItsWorkloadIsSuspendedOnceTheWorkloadExists) {
  PutNamespace("team-a", true);
  cluster_.Put(kube::resources::kJobs, RunningJob("early"));
  Start();
  ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());
  EXPECT_EQ(Job("early")["spec"]["suspend"], false);

  const json workload = PutWorkload("team-a", "agents", {{"app", "agent"}});
  ReflectWorkload();
  EXPECT_EQ(backstop_.ForWorkload(workload), std::vector<std::string>{kWorkload});
  ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());
  EXPECT_EQ(Job("early")["spec"]["suspend"], true);
}

TEST_F(BackstopControllerTest, UnmeteredRunningPodRaisesTheConditionTheGaugeAndOneEvent) {
  Seed();
  cluster_.Put(kube::resources::kPods, RunningPod("bare"));
  Start();
  EXPECT_EQ(backstop_.ForPod(*cache_.pods().store().Get("team-a/bare")),
            std::vector<std::string>{kWorkload});

  ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());
  const json unmetered = Condition("Unmetered");
  EXPECT_EQ(unmetered["status"], "True");
  EXPECT_EQ(unmetered["reason"], "PodsWithoutMeter");
  const std::string message = unmetered["message"];
  EXPECT_NE(message.find("1 running pod"), std::string::npos) << message;
  EXPECT_NE(message.find("team-a/bare"), std::string::npos) << message;
  EXPECT_NE(Metrics().find(R"(agentbudget_unmetered_pods{namespace="team-a",workload="agents"} 1)"),
            std::string::npos)
      << Metrics();
  std::vector<json> events = Events("Unmetered");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["involvedObject"]["kind"], "Pod");
  EXPECT_NE(events[0]["message"].get<std::string>().find("(rule meter-missing)"),
            std::string::npos);

  // Level-based and idempotent: nothing new is said while nothing changed.
  const size_t patches = cluster_.patches().size();
  ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());
  ReflectWorkload();
  ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());
  EXPECT_EQ(cluster_.patches().size(), patches);
  EXPECT_EQ(Events("Unmetered").size(), 1u);

  cluster_.Remove(kube::resources::kPods, "team-a", "bare");
  ReflectPod("bare");
  ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());
  EXPECT_EQ(Condition("Unmetered")["status"], "False");
  EXPECT_NE(Metrics().find(R"(agentbudget_unmetered_pods{namespace="team-a",workload="agents"} 0)"),
            std::string::npos);
  EXPECT_EQ(backstop_.reported_pods(), 0u);
}

TEST_F(BackstopControllerTest, MeteredPendingAndMirrorPodsAreNotUnmetered) {
  Seed();
  cluster_.Put(kube::resources::kPods,
               RunningPod("metered", {{{"name", "agentbudget-meter"}, {"image", "meter"}}}));
  json pending = RunningPod("pending");
  pending["status"]["phase"] = "Pending";
  cluster_.Put(kube::resources::kPods, pending);
  json mirror = RunningPod("mirror");
  mirror["metadata"]["annotations"]["kubernetes.io/config.mirror"] = "x";
  cluster_.Put(kube::resources::kPods, mirror);
  Start();
  ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());
  EXPECT_EQ(Condition("Unmetered")["status"], "False");
  EXPECT_TRUE(Events("Unmetered").empty());
}

TEST_F(BackstopControllerTest, ConditionKeepsItsTransitionTimeWhileItsStatusHolds) {
  Seed();
  cluster_.Put(kube::resources::kPods, RunningPod("a"));
  Start();
  ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());
  const std::string since = Condition("Unmetered")["lastTransitionTime"];
  ReflectWorkload();
  clock_.Advance(std::chrono::seconds{60});
  cluster_.Put(kube::resources::kPods, RunningPod("b"));
  ReflectPod("b");
  ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());
  const json condition = Condition("Unmetered");
  EXPECT_NE(condition["message"].get<std::string>().find("2 running pods"), std::string::npos);
  EXPECT_EQ(condition["lastTransitionTime"], since);
}

TEST_F(BackstopControllerTest, WorkloadRequiringApprovalWithoutApproversSaysSo) {
  PutNamespace("team-a", true);
  PutWorkload("team-a", "agents", {{"app", "agent"}}, {{"approval", {{"required", true}}}});
  Start();
  ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());
  EXPECT_EQ(Condition("NoApprovers")["status"], "True");
  EXPECT_EQ(Condition("Unmetered")["status"], "False");
}

TEST_F(BackstopControllerTest, ReportedPodsAreBoundedByThePodsStillUnmetered) {
  Seed();
  Start();
  constexpr int kWave = 40;
  for (int wave = 0; wave < 5; ++wave) {
    for (int i = 0; i < kWave; ++i) {
      cluster_.Put(kube::resources::kPods, RunningPod("p-" + std::to_string(wave * kWave + i)));
    }
    ReflectPod("p-" + std::to_string(wave * kWave + kWave - 1));
    ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());
    EXPECT_EQ(backstop_.reported_pods(), static_cast<size_t>(kWave));
    for (int i = 0; i < kWave; ++i) {
      cluster_.Remove(kube::resources::kPods, "team-a", "p-" + std::to_string(wave * kWave + i));
    }
    ReflectPod("p-" + std::to_string(wave * kWave + kWave - 1));
  }
  ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());
  EXPECT_EQ(backstop_.reported_pods(), 0u);
  EXPECT_EQ(Events("Unmetered").size(), static_cast<size_t>(5 * kWave));
}

TEST_F(BackstopControllerTest, DeletedWorkloadLosesItsSeriesAndState) {
  Seed();
  cluster_.Put(kube::resources::kPods, RunningPod("bare"));
  Start();
  ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());
  cluster_.Remove(v1alpha1::kAgentWorkloads, "team-a", "agents");
  ReflectWorkload();
  ASSERT_TRUE(backstop_.Reconcile(kWorkload).ok());
  EXPECT_EQ(Metrics().find("agentbudget_unmetered_pods{"), std::string::npos);
  EXPECT_EQ(backstop_.reported_pods(), 0u);
}

}  // namespace
}  // namespace agentbudget::queue
