// The admission queue against a real control plane with kwok nodes (kwok's stages run
// admitted Jobs' pods to completion): a 400-way fan-out under maxParallelSubagents, a
// burst under maxParallelRuns, pressure suspending Deferrable Jobs while ReleaseBlocking
// work keeps running and resuming them in order, an operator killed mid-queue, a run
// waiting for an approval (approved-by alone is none), a run ended at its money ceiling,
// and the backstop: Jobs running without an admission (created while the webhook was away,
// or before their namespace opted in) suspended and queued, and a pod without the meter
// raising its workload's Unmetered condition. Held Jobs are created as the webhook holds
// them: suspended, with the agentbudget.io/queue annotation and the attribution labels. No
// webhook runs here, so what the suite creates directly is what a webhook outage lets
// through; it acts as the cluster admin.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "e2e/operator/operator_process.h"
#include "e2e/queue/job_observer.h"
#include "e2e/support/cluster_environment.h"
#include "e2e/support/local_cluster.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/transport.h"

namespace agentbudget::e2e {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kManifests[] = R"(apiVersion: v1
kind: Namespace
metadata: {name: agentbudget-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: fanout, labels: {agentbudget.io/team: fanout}}
---
apiVersion: v1
kind: Namespace
metadata: {name: burst, labels: {agentbudget.io/team: burst}}
---
apiVersion: v1
kind: Namespace
metadata: {name: pressure, labels: {agentbudget.io/team: pressure}}
---
apiVersion: v1
kind: Namespace
metadata: {name: restart, labels: {agentbudget.io/team: restart}}
---
apiVersion: v1
kind: Namespace
metadata: {name: approval, labels: {agentbudget.io/team: approval}}
---
apiVersion: agentbudget.io/v1alpha1
kind: AgentWorkload
metadata: {name: swarm, namespace: fanout}
spec:
  selector: {matchLabels: {agentbudget.io/workload: swarm}}
  class: AutonomousBounded
  priority: Standard
  perRun: {maxSubagents: 400, maxParallelSubagents: 20}
  onLimit: Queue
---
apiVersion: agentbudget.io/v1alpha1
kind: AgentWorkload
metadata: {name: ci, namespace: burst}
spec:
  selector: {matchLabels: {agentbudget.io/workload: ci}}
  class: AutonomousBounded
  priority: Standard
  maxParallelRuns: 10
---
apiVersion: agentbudget.io/v1alpha1
kind: AgentWorkload
metadata: {name: nightly, namespace: pressure}
spec:
  selector: {matchLabels: {agentbudget.io/workload: nightly}}
  class: AutonomousBounded
  priority: Deferrable
  maxParallelRuns: 2
---
apiVersion: agentbudget.io/v1alpha1
kind: AgentWorkload
metadata: {name: release, namespace: pressure}
spec:
  selector: {matchLabels: {agentbudget.io/workload: release}}
  class: AutonomousBounded
  priority: ReleaseBlocking
---
apiVersion: agentbudget.io/v1alpha1
kind: AgentBudget
metadata: {name: pressure}
spec:
  selector: {matchLabels: {team: pressure}}
  period: Month
  limit: {amount: "10"}
  pressure: {degradeAt: 40, queueAt: 50}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: agent, namespace: pressure}
---
apiVersion: v1
kind: Pod
metadata: {name: spender, namespace: pressure, labels: {agentbudget.io/run: spender-run}}
spec:
  serviceAccountName: agent
  containers: [{name: agent, image: agent}]
---
apiVersion: agentbudget.io/v1alpha1
kind: AgentWorkload
metadata: {name: batch, namespace: restart}
spec:
  selector: {matchLabels: {agentbudget.io/workload: batch}}
  class: AutonomousBounded
  priority: Standard
  maxParallelRuns: 5
---
apiVersion: v1
kind: Namespace
metadata: {name: ceiling, labels: {agentbudget.io/team: ceiling}}
---
apiVersion: agentbudget.io/v1alpha1
kind: AgentWorkload
metadata: {name: capped, namespace: ceiling}
spec:
  selector: {matchLabels: {agentbudget.io/workload: capped}}
  class: AutonomousBounded
  priority: Standard
  models: {allowed: [claude-sonnet-4-5, claude-haiku-4-5], fallback: [claude-haiku-4-5]}
  perRun: {maxCost: "0.5", onCeiling: Stop}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: agent, namespace: ceiling}
---
apiVersion: agentbudget.io/v1alpha1
kind: AgentWorkload
metadata: {name: external, namespace: approval}
spec:
  selector: {matchLabels: {agentbudget.io/workload: external}}
  class: AutonomousExternalized
  priority: Standard
  approval: {required: true}
---
apiVersion: v1
kind: Namespace
metadata: {name: backstop, labels: {agentbudget.io/team: backstop, agentbudget.io/inject: enabled}}
---
apiVersion: agentbudget.io/v1alpha1
kind: AgentWorkload
metadata: {name: gated, namespace: backstop}
spec:
  selector: {matchLabels: {app: gated-agent}}
  class: AutonomousExternalized
  priority: Standard
  approval: {required: true}
---
apiVersion: v1
kind: Namespace
metadata: {name: late, labels: {agentbudget.io/team: late}}
---
apiVersion: agentbudget.io/v1alpha1
kind: AgentWorkload
metadata: {name: agents, namespace: late}
spec:
  selector: {matchLabels: {app: late-agent}}
  class: AutonomousBounded
  priority: Standard
---
apiVersion: v1
kind: Namespace
metadata: {name: unmetered, labels: {agentbudget.io/team: unmetered, agentbudget.io/inject: enabled}}
---
apiVersion: agentbudget.io/v1alpha1
kind: AgentWorkload
metadata: {name: agents, namespace: unmetered}
spec:
  selector: {matchLabels: {app: bare-agent}}
  class: AutonomousBounded
  priority: Standard
)";

Status Prepare(LocalCluster& cluster) {
  if (Status crds = InstallCrds(cluster); !crds.ok()) {
    return crds;
  }
  auto applied = cluster.Kubectl({"apply", "-f", "-"}, kManifests);
  if (!applied.ok()) {
    return std::move(applied).error();
  }
  if (applied->exit_code != 0) {
    return Internal("kubectl apply: " + applied->output);
  }
  return OkStatus();
}

const auto* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new ClusterEnvironment("queue-e2e", Prepare));

// A Job as the webhook leaves it: suspended, annotated Pending, labelled. Its pod completes
// `delay` after it starts (kwok's completion stage).
json HeldJob(const std::string& name, const std::string& workload, const std::string& delay,
             const json& extra_labels = json::object()) {
  json labels = {{"agentbudget.io/workload", workload}};
  labels.update(extra_labels);
  json pod_annotations = json::object();
  if (!delay.empty()) {
    pod_annotations["pod-complete.stage.kwok.x-k8s.io/delay"] = delay;
  }
  return {{"apiVersion", "batch/v1"},
          {"kind", "Job"},
          {"metadata",
           {{"name", name},
            {"labels", labels},
            {"annotations",
             {{"agentbudget.io/queue", R"({"state":"Pending","reason":"AwaitingAdmission"})"}}}}},
          {"spec",
           {{"suspend", true},
            {"backoffLimit", 0},
            {"template",
             {{"metadata",
               {{"labels", {{"agentbudget.io/workload", workload}}},
                {"annotations", pod_annotations}}},
              {"spec",
               {{"restartPolicy", "Never"},
                {"containers", {{{"name", "agent"}, {"image", "agent:latest"}}}}}}}}}}};
}

// A Job as its creator wrote it, which no webhook saw: running at once, without a queue
// annotation; its pods carry `labels` too and complete `delay` after they start.
json UnheldJob(const std::string& name, const json& labels, const std::string& delay) {
  return {{"apiVersion", "batch/v1"},
          {"kind", "Job"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"spec",
           {{"backoffLimit", 0},
            {"template",
             {{"metadata",
               {{"labels", labels},
                {"annotations", {{"pod-complete.stage.kwok.x-k8s.io/delay", delay}}}}},
              {"spec",
               {{"restartPolicy", "Never"},
                {"containers", {{{"name", "agent"}, {"image", "agent:latest"}}}}}}}}}}};
}

// The Deferrable runs among `names`, in order.
std::vector<std::string> Nightly(const std::vector<std::string>& names) {
  std::vector<std::string> nightly;
  for (const std::string& name : names) {
    if (name.starts_with("nightly-")) {
      nightly.push_back(name);
    }
  }
  return nightly;
}

class QueueE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    LocalCluster* cluster = ClusterEnvironment::Cluster();
    ASSERT_NE(cluster, nullptr);
    auto config = kube::LoadKubeconfig(cluster->kubeconfig());
    ASSERT_TRUE(config.ok()) << config.error().message;
    kube::ClientOptions options;
    options.qps = 200;
    options.burst = 400;
    auto client = kube::Client::Create(*config, options);
    ASSERT_TRUE(client.ok()) << client.error().message;
    client_ = client->release();
    port_ = FreePort();
    operator_ = new OperatorProcess(
        AGENTBUDGET_OPERATOR_BINARY,
        {"--kubeconfig=" + cluster->kubeconfig(), "--namespace=agentbudget-system",
         "--listen=127.0.0.1:" + std::to_string(port_),
         "--ops-listen=127.0.0.1:" + std::to_string(FreePort()), "--group-commit-ms=100",
         "--status-ms=500", "--identity=queue-e2e",
         // The suite tests the queue, not the authority's TLS (e2e/operator does): its
         // PostAsPod calls on loopback are plain HTTP.
         "--authority-plaintext"},
        ::testing::TempDir() + "/queue-operator.log");
    ASSERT_TRUE(operator_->Start().ok());
  }

  static void TearDownTestSuite() {
    delete operator_;
    delete client_;
  }

  // Creates the Jobs from `threads` threads at once; returns how many failed.
  static int CreateAll(const std::string& ns, const std::vector<json>& jobs, int threads = 8) {
    std::atomic<size_t> next{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        for (size_t i = next++; i < jobs.size(); i = next++) {
          if (!client_->Create(kube::resources::kJobs, ns, jobs[i]).ok()) {
            ++failures;
          }
        }
      });
    }
    for (std::thread& worker : workers) {
      worker.join();
    }
    return failures;
  }

  static std::string Kubectl(const std::vector<std::string>& args) {
    auto result = ClusterEnvironment::Cluster()->Kubectl(args);
    return result.ok() && result->exit_code == 0 ? result->output : "";
  }

  static json QueueAnnotation(const std::string& ns, const std::string& job) {
    const std::string text = Kubectl({"get", "job", job, "-n", ns, "-o",
                                      R"(jsonpath={.metadata.annotations.agentbudget\.io/queue})"});
    return json::parse(text, nullptr, false);
  }

  // Each Job of `ns`: its name, spec.suspend, queue annotation and conditions, for the
  // message of a failed expectation.
  static std::string JobStates(const std::string& ns) {
    return Kubectl({"get", "jobs", "-n", ns, "-o",
                    R"(jsonpath={range .items[*]}{.metadata.name} suspend={.spec.suspend} )"
                    R"(queue={.metadata.annotations.agentbudget\.io/queue} )"
                    R"(conditions={.status.conditions[*].type}{"\n"}{end})"});
  }

  // POSTs `body` to the operator's budget authority as pod `pod` (service account "agent"
  // of `ns`) would, with a bound token; retries until an answer (the authority starts with
  // the operator). The answer's status and body, or status 0.
  static kube::HttpResponse PostAsPod(const std::string& ns, const std::string& pod,
                                      const std::string& path, const json& body) {
    const std::string uid =
        Kubectl({"get", "pod", pod, "-n", ns, "-o", "jsonpath={.metadata.uid}"});
    std::string token = Kubectl({"create", "token", "agent", "-n", ns, "--audience=agentbudget",
                                 "--bound-object-kind=Pod", "--bound-object-name=" + pod,
                                 "--bound-object-uid=" + uid, "--duration=1h"});
    token.erase(token.find_last_not_of("\n\r ") + 1);
    kube::TransportConfig transport_config;
    transport_config.server = "http://127.0.0.1:" + std::to_string(port_);
    auto transport = kube::NewCpprestTransport(transport_config);
    if (!transport.ok()) {
      ADD_FAILURE() << transport.error().message;
      return {};
    }
    kube::HttpRequest request;
    request.method = "POST";
    request.path = path;
    request.headers["authorization"] = "Bearer " + token;
    request.headers["content-type"] = "application/json";
    request.body = body.dump();
    request.timeout = milliseconds{15000};
    kube::HttpResponse answer;
    JobObserver::WaitFor(
        [&] {
          auto sent = (*transport)->Send(request);
          if (!sent.ok() || sent->status == 503 || sent->status == 401) {
            return false;  // not serving yet, or the pod not yet in the authority's cache
          }
          answer = *sent;
          return true;
        },
        seconds{60});
    return answer;
  }

  static inline kube::Client* client_ = nullptr;
  static inline OperatorProcess* operator_ = nullptr;
  static inline int port_ = 0;
};

TEST_F(QueueE2eTest, FanOutOf400SubagentsRunsAtMost20AtOnceAndAllComplete) {
  JobObserver observer(*client_, "fanout");
  std::vector<json> jobs;
  for (int i = 0; i < 400; ++i) {
    jobs.push_back(HeldJob("sub-" + std::to_string(i), "swarm", "",
                           {{"agentbudget.io/parent-run", "run-fanout"}}));
  }
  ASSERT_EQ(CreateAll("fanout", jobs), 0);
  EXPECT_TRUE(JobObserver::WaitFor([&] { return observer.completed() == 400; }, seconds{900}))
      << observer.completed() << " of 400 completed";
  EXPECT_LE(observer.max_running(), 20);
  EXPECT_GE(observer.max_running(), 10) << "the fan-out should run in parallel batches";
  for (const auto& [name, count] : observer.admissions()) {
    EXPECT_EQ(count, 1) << name << " admitted " << count << " times";
  }
}

TEST_F(QueueE2eTest, BurstOf100RunsNeverExceedsMaxParallelRuns) {
  JobObserver observer(*client_, "burst");
  std::vector<json> jobs;
  for (int i = 0; i < 100; ++i) {
    jobs.push_back(HeldJob("run-" + std::to_string(i), "ci", "1s"));
  }
  ASSERT_EQ(CreateAll("burst", jobs, 16), 0);
  EXPECT_TRUE(JobObserver::WaitFor([&] { return observer.completed() == 100; }, seconds{600}))
      << observer.completed() << " of 100 completed";
  EXPECT_LE(observer.max_running(), 10);
  EXPECT_EQ(observer.max_running(), 10);
  EXPECT_EQ(observer.admissions().size(), 100u);
  // The workload's status counts what was admitted.
  EXPECT_TRUE(JobObserver::WaitFor(
      [&] {
        return Kubectl({"get", "agentworkload", "ci", "-n", "burst", "-o",
                        "jsonpath={.status.admittedRuns}/{.status.successRate}"}) == "100/100.0";
      },
      seconds{60}));
}

TEST_F(QueueE2eTest, PressureSuspendsDeferrableJobsKeepsReleaseBlockingAndResumesInOrder) {
  JobObserver observer(*client_, "pressure");
  ASSERT_EQ(CreateAll("pressure", {HeldJob("release-0", "release", "10m")}, 1), 0);
  for (int i = 0; i < 4; ++i) {  // one at a time, so creation order is d0 < d1 < d2 < d3
    ASSERT_EQ(CreateAll("pressure", {HeldJob("nightly-" + std::to_string(i), "nightly", "10m")}, 1),
              0);
  }
  ASSERT_TRUE(JobObserver::WaitFor([&] { return observer.running() == 3; }, seconds{120}))
      << "release-0, nightly-0 and nightly-1 should run";
  EXPECT_EQ(Nightly(observer.admission_order()),
            (std::vector<std::string>{"nightly-0", "nightly-1"}));

  // $6 of $10 spent: past queueAt (50%).
  ASSERT_EQ(PostAsPod("pressure", "spender", "/v1/events",
                      {{"idempotencyKey", "push-past-queue"}, {"kind", "tool"}, {"cost", "6"}})
                .status,
            200);

  EXPECT_TRUE(JobObserver::WaitFor(
      [&] { return observer.resuspended("nightly-0") && observer.resuspended("nightly-1"); },
      seconds{120}))
      << "running Deferrable Jobs should be suspended";
  EXPECT_EQ(QueueAnnotation("pressure", "nightly-0").value("reason", ""), "BudgetPressure");
  EXPECT_TRUE(JobObserver::WaitFor(
      [&] { return QueueAnnotation("pressure", "nightly-3").value("reason", "") == "BudgetPressure"; },
      seconds{60}));
  EXPECT_FALSE(observer.resuspended("release-0"));
  EXPECT_EQ(observer.running(), 1) << "only the ReleaseBlocking run keeps running";

  // Raising the limit ends the pressure: the suspended runs come back first, in order.
  Kubectl({"patch", "agentbudget", "pressure", "--type=merge", "-p",
           R"({"spec":{"limit":{"amount":"1000"}}})"});
  EXPECT_TRUE(JobObserver::WaitFor([&] { return observer.running() == 3; }, seconds{120}));
  EXPECT_EQ(Nightly(observer.admission_order()),
            (std::vector<std::string>{"nightly-0", "nightly-1", "nightly-0", "nightly-1"}))
      << JobStates("pressure");
  EXPECT_EQ(QueueAnnotation("pressure", "nightly-2").value("reason", ""), "WaitingForParallelism");
  EXPECT_EQ(QueueAnnotation("pressure", "nightly-2").value("position", 0), 1);
}

TEST_F(QueueE2eTest, OperatorKilledMidQueueLosesNothingAndAdmitsNothingTwice) {
  JobObserver observer(*client_, "restart");
  std::vector<json> jobs;
  for (int i = 0; i < 60; ++i) {
    jobs.push_back(HeldJob("job-" + std::to_string(i), "batch", "2s"));
  }
  ASSERT_EQ(CreateAll("restart", jobs), 0);
  ASSERT_TRUE(JobObserver::WaitFor([&] { return observer.admissions().size() >= 15; }, seconds{300}));
  operator_->Kill();
  const size_t admitted_before = observer.admissions().size();
  ASSERT_LT(admitted_before, 60u) << "the kill should come mid-queue";
  ASSERT_TRUE(operator_->Start().ok());
  EXPECT_TRUE(JobObserver::WaitFor([&] { return observer.completed() == 60; }, seconds{600}))
      << observer.completed() << " of 60 completed";
  EXPECT_LE(observer.max_running(), 5);
  EXPECT_EQ(observer.admissions().size(), 60u);
  for (const auto& [name, count] : observer.admissions()) {
    EXPECT_EQ(count, 1) << name << " admitted " << count << " times";
  }
}

TEST_F(QueueE2eTest, ExternalizedRunWaitsForAnApprovalWithItsTime) {
  JobObserver observer(*client_, "approval");
  // One at a time, so that self-approved comes first in the queue.
  ASSERT_EQ(CreateAll("approval", {HeldJob("self-approved", "external", "")}, 1), 0);
  ASSERT_EQ(CreateAll("approval", {HeldJob("approved", "external", "")}, 1), 0);
  for (const char* job : {"self-approved", "approved"}) {
    EXPECT_TRUE(JobObserver::WaitFor(
        [&] { return QueueAnnotation("approval", job).value("reason", "") == "AwaitingApproval"; },
        seconds{120}))
        << job;
  }
  EXPECT_TRUE(JobObserver::WaitFor(
      [&] {
        return Kubectl({"get", "events", "-n", "approval", "--field-selector",
                        "involvedObject.name=approved,reason=AwaitingApproval", "-o",
                        "name"}) != "";
      },
      seconds{60}));
  EXPECT_TRUE(observer.admissions().empty());
  // The workload lists no approvers, and its status says so.
  EXPECT_TRUE(JobObserver::WaitFor(
      [&] {
        return Kubectl({"get", "agentworkload", "external", "-n", "approval", "-o",
                        R"(jsonpath={.status.conditions[?(@.type=="NoApprovers")].status})"}) ==
               "True";
      },
      seconds{60}));

  // approved-by alone is not an approval (the webhook adds approved-at for an approver)...
  Kubectl({"annotate", "job", "self-approved", "-n", "approval",
           "agentbudget.io/approved-by=mallory"});
  // ...both are. The queue sees them in this order, and self-approved is first in it.
  Kubectl({"annotate", "job", "approved", "-n", "approval",
           "agentbudget.io/approved-by=agentbudget-admin",
           "agentbudget.io/approved-at=2026-11-27T10:05:00Z"});
  EXPECT_TRUE(JobObserver::WaitFor([&] { return observer.completed() == 1; }, seconds{120}));
  EXPECT_EQ(observer.admissions(), (std::map<std::string, int>{{"approved", 1}}));
  EXPECT_EQ(QueueAnnotation("approval", "self-approved").value("reason", ""), "AwaitingApproval");
  EXPECT_EQ(Kubectl({"get", "events", "-n", "approval", "--field-selector",
                     "involvedObject.name=approved,reason=Approved", "-o",
                     "jsonpath={.items[*].message}"}),
            "admitted: approved by agentbudget-admin at 2026-11-27T10:05:00Z");
}

TEST_F(QueueE2eTest, JobRunningWithoutAnAdmissionIsSuspendedAndHeld) {
  JobObserver observer(*client_, "backstop");
  // Created while the webhook was away: running at once, unlabelled, without a queue state.
  ASSERT_EQ(CreateAll("backstop", {UnheldJob("outage-run", {{"app", "gated-agent"}}, "10m")}, 1),
            0);
  EXPECT_TRUE(JobObserver::WaitFor(
      [&] {
        const std::string state =
            Kubectl({"get", "job", "outage-run", "-n", "backstop", "-o",
                     R"(jsonpath={.spec.suspend}/{.metadata.labels.agentbudget\.io/workload})"});
        return state == "true/gated" &&
               QueueAnnotation("backstop", "outage-run").value("reason", "") == "AwaitingApproval";
      },
      seconds{120}))
      << "the Job should be suspended, labelled for its workload and held like any run";
  const std::string events = Kubectl({"get", "events", "-n", "backstop", "--field-selector",
                                      "involvedObject.name=outage-run,reason=NotAdmitted", "-o",
                                      "jsonpath={.items[*].message}"});
  EXPECT_NE(events.find("job backstop/outage-run was running without an admission"),
            std::string::npos)
      << events;
  EXPECT_NE(events.find("(rule held-job)"), std::string::npos) << events;

  // Unsuspending the held Job by hand (no webhook refuses it here) does not last either.
  Kubectl({"patch", "job", "outage-run", "-n", "backstop", "--type=merge", "-p",
           R"({"spec":{"suspend":false}})"});
  EXPECT_TRUE(JobObserver::WaitFor([&] { return observer.resuspended("outage-run"); },
                                   seconds{120}));
  EXPECT_TRUE(JobObserver::WaitFor(
      [&] {
        return QueueAnnotation("backstop", "outage-run").value("reason", "") == "AwaitingApproval";
      },
      seconds{60}));
}

TEST_F(QueueE2eTest, JobOlderThanTheOptInIsSuspendedThenQueuedWhenTheNamespaceOptsIn) {
  JobObserver observer(*client_, "late");
  ASSERT_EQ(CreateAll("late", {UnheldJob("early-run", {{"app", "late-agent"}}, "10m")}, 1), 0);
  ASSERT_TRUE(JobObserver::WaitFor(
      [&] {
        return Kubectl({"get", "job", "early-run", "-n", "late", "-o",
                        "jsonpath={.status.active}"}) == "1";
      },
      seconds{120}));
  // Not governed yet: the namespace has not opted in.
  EXPECT_FALSE(observer.resuspended("early-run"));
  EXPECT_TRUE(observer.admissions().empty());

  Kubectl({"label", "namespace", "late", "agentbudget.io/inject=enabled"});
  // Suspended, then admitted by the queue like any held run.
  EXPECT_TRUE(JobObserver::WaitFor(
      [&] { return observer.admissions().contains("early-run"); }, seconds{120}));
  EXPECT_EQ(QueueAnnotation("late", "early-run").value("state", ""), "Admitted");
  EXPECT_EQ(Kubectl({"get", "job", "early-run", "-n", "late", "-o",
                     R"(jsonpath={.metadata.labels.agentbudget\.io/workload})"}),
            "agents");
  EXPECT_NE(Kubectl({"get", "events", "-n", "late", "--field-selector",
                     "involvedObject.name=early-run,reason=NotAdmitted", "-o", "name"}),
            "");
}

TEST_F(QueueE2eTest, PodWithoutTheMeterRaisesItsWorkloadsUnmeteredCondition) {
  const json pod = {{"apiVersion", "v1"},
                    {"kind", "Pod"},
                    {"metadata", {{"name", "bare-agent"}, {"labels", {{"app", "bare-agent"}}}}},
                    {"spec", {{"containers", {{{"name", "agent"}, {"image", "agent"}}}}}}};
  ASSERT_TRUE(client_->Create(kube::resources::kPods, "unmetered", pod).ok());
  const auto condition = [](const std::string& field) {
    return Kubectl({"get", "agentworkload", "agents", "-n", "unmetered", "-o",
                    R"(jsonpath={.status.conditions[?(@.type=="Unmetered")].)" + field + "}"});
  };
  EXPECT_TRUE(JobObserver::WaitFor([&] { return condition("status") == "True"; }, seconds{120}))
      << Kubectl({"get", "agentworkload", "agents", "-n", "unmetered", "-o", "jsonpath={.status}"});
  EXPECT_NE(condition("message").find("1 running pod governed by this workload has no "
                                      "agentbudget-meter container, e.g. unmetered/bare-agent"),
            std::string::npos)
      << condition("message");
  const std::string events = Kubectl({"get", "events", "-n", "unmetered", "--field-selector",
                                      "involvedObject.name=bare-agent,reason=Unmetered", "-o",
                                      "jsonpath={.items[*].message}"});
  EXPECT_NE(events.find("(rule meter-missing)"), std::string::npos) << events;

  Kubectl({"delete", "pod", "bare-agent", "-n", "unmetered", "--wait=true"});
  EXPECT_TRUE(JobObserver::WaitFor([&] { return condition("status") == "False"; }, seconds{120}));
}

TEST_F(QueueE2eTest, RunAtItsMoneyCeilingIsEndedWhenTheWorkloadAsks) {
  JobObserver observer(*client_, "ceiling");
  ASSERT_EQ(CreateAll("ceiling", {HeldJob("agent-run", "capped", "10m")}, 1), 0);
  ASSERT_TRUE(JobObserver::WaitFor([&] { return observer.running() == 1; }, seconds{120}));
  // The run's agent pod as the webhook labels it: its run is the Job's UID.
  const std::string run =
      Kubectl({"get", "job", "agent-run", "-n", "ceiling", "-o", "jsonpath={.metadata.uid}"});
  ASSERT_FALSE(run.empty());
  const json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", "agent-run-pod"},
        {"labels", {{"agentbudget.io/run", run}, {"agentbudget.io/workload", "capped"}}}}},
      {"spec",
       {{"serviceAccountName", "agent"},
        {"containers", {{{"name", "agent"}, {"image", "agent"}}}}}}};
  ASSERT_TRUE(client_->Create(kube::resources::kPods, "ceiling", pod).ok());

  // A call served by the fallback model spends $0.40 of the run's $0.50...
  const kube::HttpResponse reserved =
      PostAsPod("ceiling", "agent-run-pod", "/v1/reservations",
                {{"idempotencyKey", "k1"},
                 {"provider", "anthropic"},
                 {"model", "claude-haiku-4-5"},
                 {"estimate", {{"cost", "0.4"}, {"tokens", 1000}}}});
  ASSERT_EQ(reserved.status, 200) << reserved.body;
  const json reservation = json::parse(reserved.body, nullptr, false);
  ASSERT_TRUE(reservation.is_object()) << reserved.body;
  ASSERT_EQ(reservation.value("decision", ""), "allow") << reserved.body;
  const kube::HttpResponse committed = PostAsPod(
      "ceiling", "agent-run-pod", "/v1/reservations/" + reservation.value("id", "") + "/commit",
      {{"idempotencyKey", "k1-commit"},
       {"model", "claude-haiku-4-5"},
       {"usage", {{"input", 1000}, {"output", 200}}},
       {"cost", "0.4"}});
  ASSERT_EQ(committed.status, 200) << committed.body;
  // ...so the next is denied at the ceiling, and the operator ends the run.
  const kube::HttpResponse denied =
      PostAsPod("ceiling", "agent-run-pod", "/v1/reservations",
                {{"idempotencyKey", "k2"},
                 {"provider", "anthropic"},
                 {"model", "claude-sonnet-4-5"},
                 {"estimate", {{"cost", "0.3"}, {"tokens", 1000}}}});
  const json denial = json::parse(denied.body, nullptr, false);
  ASSERT_TRUE(denial.is_object()) << denied.body;
  ASSERT_EQ(denial.value("decision", ""), "deny") << denied.body;

  EXPECT_TRUE(JobObserver::WaitFor(
      [&] {
        return Kubectl({"get", "job", "agent-run", "-n", "ceiling", "-o",
                        R"(jsonpath={.status.conditions[?(@.type=="Failed")].reason})"}) ==
               "DeadlineExceeded";
      },
      seconds{120}))
      << "the Job should fail at its deadline, set to the time it had run";
  const std::string events =
      Kubectl({"get", "events", "-n", "ceiling", "--field-selector",
               "involvedObject.name=agent-run,reason=RunCeilingReached", "-o",
               "jsonpath={.items[*].message}"});
  EXPECT_NE(events.find("reached its ceiling maxCost ($0.5): spent $0.4"), std::string::npos)
      << events;
  EXPECT_EQ(observer.admissions().size(), 1u) << "an ended run is not retried";
  // The workload's status: this month's spend, and every call on the fallback model.
  EXPECT_TRUE(JobObserver::WaitFor(
      [&] {
        return Kubectl({"get", "agentworkload", "capped", "-n", "ceiling", "-o",
                        "jsonpath={.status.spend}/{.status.lowCostTierShare}/"
                        "{.status.successRate}"}) == "0.4/100.0/0.0";
      },
      seconds{60}))
      << Kubectl({"get", "agentworkload", "capped", "-n", "ceiling", "-o", "jsonpath={.status}"});
}

}  // namespace
}  // namespace agentbudget::e2e
