// The webhook against the real API server of the local control plane, registered by URL
// (deploy/webhook/webhooks-local.yaml): pods and Jobs created through the API server come
// out injected, labelled, gated or suspended (Jobs with their retries bounded); denials
// carry their messages; a burst of 200 concurrent subagent creations for one run with
// maxSubagents 20 through two webhook processes admits exactly 20, and the workload's
// status.rejectedRuns counts the 180 denials (and, at most once each, denials the API server
// timed out and the creators retried); and a tenant (impersonated, bound to the
// namespace's edit role) can neither release held work, forge system labels, debug the
// meter nor approve its own run, while an approver's approval is recorded.
//
// The suite acts as agentbudget-admin, which is the operator, the Job controller and
// (here) a trusted creator, so its own subagent labels are honoured.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "common/mutex.h"
#include "e2e/support/cluster_environment.h"
#include "e2e/support/local_cluster.h"
#include "e2e/webhook/webhook_process.h"
#include "kube/client.h"
#include "kube/config.h"
#include "tests/common/test_tls.h"
#include "webhook/admission_review.h"
#include "webhook/rejection_reporter.h"

namespace agentbudget::e2e {
namespace {

using nlohmann::json;

constexpr int kBurst = 200;
constexpr int kCap = 20;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void ReplaceAll(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

const char* kObjects = R"(apiVersion: v1
kind: Namespace
metadata:
  name: payments
  labels:
    agentbudget.io/inject: enabled
    agentbudget.io/team: payments
    agentbudget.io/cost-center: cc-4021
---
apiVersion: agentbudget.io/v1alpha1
kind: AgentWorkload
metadata:
  name: pr-review
  namespace: payments
spec:
  selector:
    matchLabels:
      agentbudget.io/workload: pr-review
  class: AutonomousBounded
  attribution:
    workflow: pr-review
    repo: acme/payments
    environment: ci
  models:
    allowed: [claude-sonnet-4-5]
  perRun:
    maxRuntime: 1h
    maxSubagents: 20
    maxRetries: 2
  onLimit: Reject
  meter:
    credentialsSecretRef:
      name: llm-keys
---
apiVersion: agentbudget.io/v1alpha1
kind: AgentWorkload
metadata:
  name: leaky
  namespace: payments
spec:
  selector:
    matchLabels:
      agentbudget.io/workload: leaky
  class: AutonomousBounded
  perRun:
    maxRuntime: 1h
    maxSubagents: 2
  onLimit: Reject
---
apiVersion: agentbudget.io/v1alpha1
kind: AgentWorkload
metadata:
  name: gated
  namespace: payments
spec:
  selector:
    matchLabels:
      agentbudget.io/workload: gated
  class: AutonomousExternalized
  approval:
    required: true
    approvers:
      users: [alice]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: tenants-edit
  namespace: payments
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: mallory}
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: debug-pods
  namespace: payments
rules:
- {apiGroups: [""], resources: [pods/ephemeralcontainers], verbs: [get, patch, update]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: tenants-debug
  namespace: payments
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: debug-pods}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: mallory}
)";

// The cluster, two webhook processes behind a round-robin proxy, and the configurations.
class WebhookStack {
 public:
  Status Start(LocalCluster& cluster) {
    if (Status s = InstallCrds(cluster); !s.ok()) {
      return s;
    }
    auto certs = testing::WriteSelfSignedCertificate(dir_.path(), "webhook", "agentbudget-webhook");
    if (!certs.ok()) {
      return std::move(certs).error();
    }
    for (int i = 0; i < 2; ++i) {
      webhooks_.push_back(std::make_unique<WebhookProcess>(
          AGENTBUDGET_WEBHOOK_BINARY, cluster.kubeconfig(), certs->cert_file, certs->key_file,
          dir_.path() + "/webhook-" + std::to_string(i) + ".log",
          std::vector<std::string>{"--trusted-creators=agentbudget-admin"}));
      if (Status s = webhooks_.back()->Start(std::chrono::seconds(60)); !s.ok()) {
        return s;
      }
    }
    proxy_ = std::make_unique<RoundRobinProxy>(
        std::vector<uint16_t>{webhooks_[0]->port(), webhooks_[1]->port()});
    if (Status s = proxy_->Start(); !s.ok()) {
      return s;
    }
    std::string config = ReadFile(SourcePath("deploy/webhook/webhooks-local.yaml"));
    const std::string base = "https://127.0.0.1:" + std::to_string(proxy_->port());
    ReplaceAll(config, "@MUTATE_URL@", base + "/mutate");
    ReplaceAll(config, "@VALIDATE_URL@", base + "/validate");
    ReplaceAll(config, "@CA_BUNDLE@", base64::Encode(certs->cert_pem));
    ReplaceAll(config, "@INSTALL_NAMESPACE@", "agentbudget-system");
    for (const std::string& manifest : {std::string(kObjects), config}) {
      auto applied = cluster.Kubectl({"apply", "-f", "-"}, manifest);
      if (!applied.ok() || applied->exit_code != 0) {
        return Internal("kubectl apply failed: " + (applied.ok() ? applied->output : ""));
      }
    }
    // The webhooks' caches see the namespace and workload through their informers; wait
    // until an injected dry-run pod proves it.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
      auto probe = cluster.Kubectl({"create", "--dry-run=server", "-o", "json", "-f", "-"},
                                   PodYaml("probe", "claude-sonnet-4-5", ""));
      if (probe.ok() && probe->exit_code == 0 &&
          probe->output.find("agentbudget-meter") != std::string::npos) {
        return OkStatus();
      }
      last = probe.ok() ? probe->output : probe.error().ToString();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // poll interval
    }
    return MakeError(ErrorCode::kDeadlineExceeded,
                     "the webhooks never injected a probe pod; last answer: " + last);
  }

  static std::string PodYaml(const std::string& name, const std::string& model,
                             const std::string& parent_run) {
    std::string yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name +
                       "\n  namespace: payments\n  labels:\n    agentbudget.io/workload: pr-review\n";
    if (!parent_run.empty()) {
      yaml += "    agentbudget.io/parent-run: " + parent_run + "\n";
    }
    yaml += "spec:\n  containers:\n  - name: agent\n    image: agent:1\n    env:\n"
            "    - name: ANTHROPIC_MODEL\n      value: " + model + "\n";
    return yaml;
  }

  std::vector<std::unique_ptr<WebhookProcess>>& webhooks() { return webhooks_; }

 private:
  testing::TempDir dir_;
  std::vector<std::unique_ptr<WebhookProcess>> webhooks_;
  std::unique_ptr<RoundRobinProxy> proxy_;
};

// Starts the webhook stack once the cluster is up and stops it before the cluster stops
// (GoogleTest tears environments down in reverse order of registration).
class WebhookEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    LocalCluster* cluster = ClusterEnvironment::Cluster();
    ASSERT_NE(cluster, nullptr);
    auto stack = std::make_unique<WebhookStack>();
    Status started = stack->Start(*cluster);
    ASSERT_TRUE(started.ok()) << started.error().ToString();
    stack_ = std::move(stack);
  }
  void TearDown() override { stack_.reset(); }
  static WebhookStack* stack() { return stack_.get(); }

 private:
  static inline std::unique_ptr<WebhookStack> stack_;
};

WebhookStack* Stack() { return WebhookEnvironment::stack(); }

class WebhookE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = ClusterEnvironment::Cluster();
    ASSERT_NE(cluster_, nullptr);
    ASSERT_NE(Stack(), nullptr);
  }
  json Create(const std::string& yaml, const std::string& as = "") {
    std::vector<std::string> args = {"create", "-o", "json", "-f", "-"};
    if (!as.empty()) {
      args.insert(args.begin(), "--as=" + as);
    }
    auto created = cluster_->Kubectl(args, yaml);
    EXPECT_TRUE(created.ok());
    EXPECT_EQ(created->exit_code, 0) << created->output;
    return created->exit_code == 0 ? json::parse(created->output) : json();
  }
  // kubectl as user `as` (impersonated: userInfo is that user, group system:authenticated).
  CommandResult As(const std::string& as, std::vector<std::string> args,
                   const std::string& stdin_text = "") {
    args.insert(args.begin(), "--as=" + as);
    auto result = cluster_->Kubectl(args, stdin_text);
    EXPECT_TRUE(result.ok());
    return result.ok() ? *result : CommandResult{-1, ""};
  }
  json Get(const std::string& kind, const std::string& name) {
    auto got = cluster_->Kubectl({"get", kind, "-n", "payments", name, "-o", "json"});
    EXPECT_TRUE(got.ok() && got->exit_code == 0) << (got.ok() ? got->output : "");
    return got.ok() && got->exit_code == 0 ? json::parse(got->output) : json();
  }
  static std::string JobYaml(const std::string& name, const std::string& workload) {
    return "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: " + name +
           "\n  namespace: payments\n  labels:\n    agentbudget.io/workload: " + workload +
           "\nspec:\n  template:\n    metadata:\n      labels:\n        agentbudget.io/workload: " +
           workload +
           "\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: agent\n"
           "        image: agent:1\n";
  }
  LocalCluster* cluster_ = nullptr;
};

TEST_F(WebhookE2eTest, PodCreatedThroughTheApiServerIsInjectedLabelledAndGated) {
  json pod = Create(WebhookStack::PodYaml("agent-a", "claude-sonnet-4-5", ""));
  EXPECT_EQ(pod["spec"]["initContainers"][0]["name"], "agentbudget-meter");
  EXPECT_EQ(pod["spec"]["initContainers"][0]["restartPolicy"], "Always");
  EXPECT_EQ(pod["metadata"]["labels"]["agentbudget.io/team"], "payments");
  EXPECT_EQ(pod["metadata"]["labels"]["agentbudget.io/workflow"], "pr-review");
  EXPECT_FALSE(pod["metadata"]["labels"]["agentbudget.io/run"].get<std::string>().empty());
  EXPECT_EQ(pod["metadata"]["annotations"]["agentbudget.io/repo"], "acme/payments");
  EXPECT_EQ(pod["spec"]["schedulingGates"][0]["name"], "agentbudget.io/admission");
  bool base_url = false;
  for (const json& e : pod["spec"]["containers"][0]["env"]) {
    base_url = base_url || (e["name"] == "ANTHROPIC_BASE_URL" &&
                            e["value"] == "http://127.0.0.1:8787/anthropic");
  }
  EXPECT_TRUE(base_url);
}

TEST_F(WebhookE2eTest, JobCreatedThroughTheApiServerIsSuspendedAndLabelled) {
  json job = Create(R"(apiVersion: batch/v1
kind: Job
metadata:
  name: review-1
  namespace: payments
  labels:
    agentbudget.io/workload: pr-review
spec:
  template:
    metadata:
      labels:
        agentbudget.io/workload: pr-review
    spec:
      restartPolicy: Never
      containers:
      - name: agent
        image: agent:1
)");
  EXPECT_EQ(job["spec"]["suspend"], true);
  EXPECT_EQ(job["spec"]["activeDeadlineSeconds"], 3600);
  // The API server defaulted backoffLimit to 6 before admission; maxRetries lowered it.
  EXPECT_EQ(job["spec"]["backoffLimit"], 2);
  EXPECT_EQ(job["metadata"]["labels"]["agentbudget.io/team"], "payments");
  EXPECT_EQ(job["spec"]["template"]["metadata"]["labels"]["agentbudget.io/team"], "payments");
  EXPECT_TRUE(job["metadata"]["annotations"].contains("agentbudget.io/queue"));
}

TEST_F(WebhookE2eTest, DisallowedModelIsDeniedWithItsMessage) {
  auto created = cluster_->Kubectl({"create", "-f", "-"},
                                   WebhookStack::PodYaml("agent-opus", "claude-opus-4-1", ""));
  ASSERT_TRUE(created.ok());
  EXPECT_NE(created->exit_code, 0);
  EXPECT_NE(created->output.find("model claude-opus-4-1 (container agent env ANTHROPIC_MODEL) "
                                 "is not allowed by AgentWorkload pr-review"),
            std::string::npos)
      << created->output;
}

// A burst of subagent creations for one run through both webhook processes at once: the
// count lives in the API server, so exactly the cap is admitted and the rest are denied with
// the run, the count and the cap — also when some admitted creations time out in the API
// server (their slots go back after the grace period, to creators that retry). Both
// replicas add their denials to the workload's status.rejectedRuns, which ends up equal to
// the denials the creators saw, plus at most one for each retry after the API server timed
// out a webhook call (a denial that reached it too late counts, and so does the retry's).
TEST_F(WebhookE2eTest, BurstOf200SubagentsThroughTwoWebhooksAdmitsExactlyTheCap) {
  auto config = kube::LoadKubeconfig(cluster_->kubeconfig());
  ASSERT_TRUE(config.ok());
  kube::ClientOptions options;
  options.qps = 10000;
  options.burst = 10000;
  options.max_retries = 0;
  auto client = kube::Client::Create(*config, options);
  ASSERT_TRUE(client.ok());
  auto rejected_runs = [&client]() -> int64_t {
    auto workload = (*client)->Get(v1alpha1::kAgentWorkloads, "payments", "pr-review");
    EXPECT_TRUE(workload.ok()) << workload.error().ToString();
    const json* count = workload.ok() ? &(*workload)["status"]["rejectedRuns"] : nullptr;
    return count != nullptr && count->is_number_integer() ? count->get<int64_t>() : 0;
  };
  const int64_t rejected_before = rejected_runs();
  std::atomic<int> admitted{0};
  std::atomic<int> denied_with_message{0};
  std::atomic<int> other{0};
  std::atomic<int> retries{0};
  std::atomic<int> retries_after_timeouts{0};
  std::string sample_denial;
  Mutex sample_mu;
  std::vector<std::thread> threads;
  for (int i = 0; i < kBurst; ++i) {
    threads.emplace_back([&, i] {
      json pod = {{"apiVersion", "v1"},
                  {"kind", "Pod"},
                  {"metadata",
                   {{"name", "sub-" + std::to_string(i)},
                    {"labels",
                     {{"agentbudget.io/workload", "pr-review"},
                      {"agentbudget.io/parent-run", "burst-run"}}}}},
                  {"spec", {{"containers", {{{"name", "agent"}, {"image", "agent:1"}}}}}}};
      // A creator retries what the API server reports as retryable (503 "retry in a few
      // seconds" while slots of unstored creations are settled, or its own webhook call
      // timing out on this loaded machine), as controllers do; an AlreadyExists on a retry
      // means an earlier attempt was stored.
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(90);
      auto created = (*client)->Create(kube::resources::kPods, "payments", pod);
      while (!created.ok() && std::chrono::steady_clock::now() < give_up) {
        const std::string& message = created.error().message;
        const bool timed_out = message.find("context deadline exceeded") != std::string::npos;
        if (!timed_out && message.find("HTTP 503") == std::string::npos) {
          break;
        }
        ++retries;
        retries_after_timeouts += timed_out ? 1 : 0;
        std::this_thread::sleep_for(std::chrono::seconds(1));  // a creator's back-off
        created = (*client)->Create(kube::resources::kPods, "payments", pod);
        if (!created.ok() && created.error().code == ErrorCode::kAlreadyExists) {
          created = json::object();
        }
      }
      if (created.ok()) {
        ++admitted;
      } else if (created.error().message.find("run burst-run has already created 20 of 20") !=
                 std::string::npos) {
        ++denied_with_message;
        MutexLock lock(sample_mu);
        sample_denial = created.error().message;
      } else {
        ++other;
        MutexLock lock(sample_mu);
        ADD_FAILURE() << "unexpected failure: " << created.error().ToString();
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  std::printf("burst: %d admitted, %d denied at the cap, %d retries of retryable failures "
              "(%d after timeouts)\n",
              admitted.load(), denied_with_message.load(), retries.load(),
              retries_after_timeouts.load());
  EXPECT_EQ(admitted.load(), kCap);
  EXPECT_EQ(denied_with_message.load(), kBurst - kCap) << sample_denial;
  EXPECT_EQ(other.load(), 0);
  // Both replicas judged part of the burst.
  for (auto& webhook : Stack()->webhooks()) {
    auto metrics = webhook->Get("/metrics");
    ASSERT_TRUE(metrics.ok());
    EXPECT_NE(metrics->find("agentbudget_webhook_denials_total{kind=\"Pod\"}"), std::string::npos)
        << "a webhook process denied nothing: the burst did not go through both";
  }
  // The replicas flush their counts about once a second, each write conditioned on the
  // version it read, so no denial is lost; a denial the API server timed out counts too.
  const int64_t expected = rejected_before + denied_with_message.load();
  const int64_t most = expected + retries_after_timeouts.load();
  const auto burst_done = std::chrono::steady_clock::now();
  const auto deadline = burst_done + std::chrono::seconds(20);
  int64_t rejected = rejected_runs();
  while (rejected < expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // poll interval
    rejected = rejected_runs();
  }
  const auto settled = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - burst_done);
  // Counts still pending would show within two flushes.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  rejected = rejected_runs();
  std::printf("status.rejectedRuns: %lld before, %lld after, reached %lld ms after the burst\n",
              static_cast<long long>(rejected_before), static_cast<long long>(rejected),
              static_cast<long long>(settled.count()));
  EXPECT_GE(rejected, expected);
  EXPECT_LE(rejected, most);
}

// A creation that takes a slot and then fails in the API server (here: its name is taken,
// which the store finds only after validation) gives the slot back once the grace period
// shows it was never stored; the next subagent gets it, and the cap still holds.
TEST_F(WebhookE2eTest, SlotOfACreationTheApiServerRefusedGoesToTheNextSubagent) {
  auto subagent = [](const std::string& name) {
    return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name +
           "\n  namespace: payments\n  labels:\n    agentbudget.io/workload: leaky\n"
           "    agentbudget.io/parent-run: leak-run\nspec:\n  containers:\n"
           "  - name: agent\n    image: agent:1\n";
  };
  auto create = [this](const std::string& yaml) {
    auto created = cluster_->Kubectl({"create", "-f", "-"}, yaml);
    EXPECT_TRUE(created.ok());
    return created.ok() ? *created : CommandResult{-1, ""};
  };
  ASSERT_EQ(create(subagent("leak-a")).exit_code, 0);
  CommandResult again = create(subagent("leak-a"));
  ASSERT_NE(again.exit_code, 0);
  ASSERT_NE(again.output.find("AlreadyExists"), std::string::npos) << again.output;
  // Both slots are taken, one by a creation that was not stored: "leak-b" waits for it.
  CommandResult next;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int waited = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    next = create(subagent("leak-b"));
    if (next.exit_code == 0) {
      break;
    }
    ASSERT_NE(next.output.find("not stored yet"), std::string::npos) << next.output;
    ++waited;
  }
  ASSERT_EQ(next.exit_code, 0) << next.output;
  EXPECT_GT(waited, 0) << "the released slot was free before its grace period";
  CommandResult over = create(subagent("leak-c"));
  EXPECT_NE(over.exit_code, 0);
  EXPECT_NE(over.output.find("run leak-run has already created 2 of 2"), std::string::npos)
      << over.output;
  auto config_map = cluster_->Kubectl(
      {"get", "configmap", "-n", "payments", "agentbudget-fanout-leak-run", "-o", "json"});
  ASSERT_TRUE(config_map.ok());
  ASSERT_EQ(config_map->exit_code, 0) << config_map->output;
  json slots = json::parse(json::parse(config_map->output)["data"]["slots"].get<std::string>());
  ASSERT_EQ(slots.size(), 2u) << slots.dump();
  EXPECT_EQ(slots[0]["name"], "leak-a");
  EXPECT_EQ(slots[1]["name"], "leak-b");
  EXPECT_TRUE(slots[0].contains("uid")) << slots.dump();
  EXPECT_TRUE(slots[1].contains("uid")) << slots.dump();
}

// A tenant's creation is charged to the tenant, whatever user label it carries, and the
// labels it forges are gone.
TEST_F(WebhookE2eTest, ATenantsPodIsChargedToTheTenant) {
  std::string yaml = WebhookStack::PodYaml("tenant-pod", "claude-sonnet-4-5", "");
  ReplaceAll(yaml, "    agentbudget.io/workload: pr-review\n",
             "    agentbudget.io/workload: pr-review\n    agentbudget.io/user: alice\n"
             "    agentbudget.io/run: someone-elses-run\n");
  json pod = Create(yaml, "mallory");
  EXPECT_EQ(pod["metadata"]["labels"]["agentbudget.io/user"], "mallory");
  EXPECT_NE(pod["metadata"]["labels"]["agentbudget.io/run"], "someone-elses-run");
  EXPECT_EQ(pod["spec"]["initContainers"][0]["name"], "agentbudget-meter");
}

TEST_F(WebhookE2eTest, ATenantsOwnMeterIsRefused) {
  std::string yaml = WebhookStack::PodYaml("fake-meter", "claude-sonnet-4-5", "");
  yaml += "  initContainers:\n  - name: agentbudget-meter\n    image: mallory/fake:1\n"
          "    restartPolicy: Always\n";
  CommandResult created = As("mallory", {"create", "-f", "-"}, yaml);
  EXPECT_NE(created.exit_code, 0);
  EXPECT_NE(created.output.find("(rule reserved-name)"), std::string::npos) << created.output;
}

TEST_F(WebhookE2eTest, ATenantCannotReleaseAHeldJob) {
  Create(JobYaml("held-1", "pr-review"));
  CommandResult patched = As("mallory", {"patch", "job", "-n", "payments", "held-1", "--type",
                                         "merge", "-p", R"({"spec":{"suspend":false}})"});
  EXPECT_NE(patched.exit_code, 0);
  EXPECT_NE(patched.output.find("(rule held-job)"), std::string::npos) << patched.output;
  EXPECT_EQ(Get("job", "held-1")["spec"]["suspend"], true);
  // The operator (here agentbudget-admin) releases it: the API server does not even ask.
  auto released = cluster_->Kubectl({"patch", "job", "-n", "payments", "held-1", "--type",
                                     "merge", "-p", R"({"spec":{"suspend":false}})"});
  ASSERT_TRUE(released.ok());
  ASSERT_EQ(released->exit_code, 0) << released->output;
  // The Job controller's pod passes both webhooks, metered and charged as the Job says.
  const std::string job_uid = Get("job", "held-1")["metadata"]["uid"];
  json pods;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    auto listed = cluster_->Kubectl({"get", "pods", "-n", "payments", "-l",
                                     "batch.kubernetes.io/job-name=held-1", "-o", "json"});
    ASSERT_TRUE(listed.ok());
    pods = json::parse(listed->output)["items"];
    if (!pods.empty()) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // poll interval
  }
  ASSERT_FALSE(pods.empty()) << "the Job controller created no pod";
  EXPECT_EQ(pods[0]["spec"]["initContainers"][0]["name"], "agentbudget-meter");
  EXPECT_EQ(pods[0]["metadata"]["labels"]["agentbudget.io/run"], job_uid);
  EXPECT_EQ(pods[0]["metadata"]["labels"]["agentbudget.io/user"], "agentbudget-admin");
}

TEST_F(WebhookE2eTest, ATenantCannotForgeSystemLabelsOrUngateOrDebugTheMeter) {
  Create(WebhookStack::PodYaml("guarded", "claude-sonnet-4-5", ""));
  CommandResult relabelled = As("mallory", {"label", "pod", "-n", "payments", "guarded",
                                            "--overwrite", "agentbudget.io/user=alice"});
  EXPECT_NE(relabelled.exit_code, 0);
  EXPECT_NE(relabelled.output.find("(rule system-metadata)"), std::string::npos)
      << relabelled.output;
  CommandResult ungated =
      As("mallory", {"patch", "pod", "-n", "payments", "guarded", "--type", "json", "-p",
                     R"([{"op":"remove","path":"/spec/schedulingGates"}])"});
  EXPECT_NE(ungated.exit_code, 0);
  EXPECT_NE(ungated.output.find("(rule admission-gate)"), std::string::npos) << ungated.output;
  CommandResult debugged =
      As("mallory", {"debug", "-n", "payments", "guarded", "--image=busybox",
                     "--target=agentbudget-meter", "--attach=false"});
  EXPECT_NE(debugged.exit_code, 0);
  EXPECT_NE(debugged.output.find("(rule ephemeral-container)"), std::string::npos)
      << debugged.output;
  json pod = Get("pod", "guarded");
  EXPECT_EQ(pod["metadata"]["labels"]["agentbudget.io/user"], "agentbudget-admin");
  EXPECT_EQ(pod["spec"]["schedulingGates"][0]["name"], "agentbudget.io/admission");
  EXPECT_FALSE(pod["spec"].contains("ephemeralContainers"));
}

TEST_F(WebhookE2eTest, OnlyAnApproverApprovesAndTheApprovalNamesThem) {
  Create(JobYaml("needs-approval", "gated"));
  CommandResult self = As("mallory", {"annotate", "job", "-n", "payments", "needs-approval",
                                      "agentbudget.io/approved-by=yes"});
  EXPECT_NE(self.exit_code, 0);
  EXPECT_NE(self.output.find("(rule approvers)"), std::string::npos) << self.output;
  CommandResult approved = As("alice", {"annotate", "job", "-n", "payments", "needs-approval",
                                        "agentbudget.io/approved-by=yes"});
  EXPECT_EQ(approved.exit_code, 0) << approved.output;
  const json annotations = Get("job", "needs-approval")["metadata"]["annotations"];
  EXPECT_EQ(annotations["agentbudget.io/approved-by"], "alice");
  EXPECT_TRUE(annotations["agentbudget.io/approved-at"].is_string()) << annotations.dump();
}

}  // namespace
}  // namespace agentbudget::e2e

namespace {
const auto* const kClusterEnvironment =
    ::testing::AddGlobalTestEnvironment(new agentbudget::e2e::ClusterEnvironment("webhook-e2e"));
const auto* const kWebhookEnvironment =
    ::testing::AddGlobalTestEnvironment(new agentbudget::e2e::WebhookEnvironment());
}  // namespace
