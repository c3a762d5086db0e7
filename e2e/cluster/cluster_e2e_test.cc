// The local control plane itself: clusters start side by side, run Jobs to completion on
// kwok's fake Nodes, survive an API server restart, report the pinned version, and leave
// nothing behind when stopped.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "e2e/support/local_cluster.h"

namespace agentbudget::e2e {
namespace {

using ::testing::HasSubstr;

CommandResult Kubectl(const LocalCluster& cluster, const std::vector<std::string>& args,
                      const std::string& input = "") {
  auto result = cluster.Kubectl(args, input);
  return result.ok() ? std::move(result).value() : CommandResult{-1, result.error().message};
}

// Polls `kubectl args` until its output contains `wanted` or `seconds` pass.
bool PollFor(const LocalCluster& cluster, const std::vector<std::string>& args,
             const std::string& wanted, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Kubectl(cluster, args).output.find(wanted) != std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

bool Exists(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0;
}

class ClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = LocalCluster::Start("cluster-e2e");
    ASSERT_TRUE(started.ok()) << started.error().message;
    cluster_ = std::move(started).value().release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(cluster_, nullptr) << "the local cluster did not start"; }
  static LocalCluster* cluster_;
};
LocalCluster* ClusterTest::cluster_ = nullptr;

TEST_F(ClusterTest, ServerReportsThePinnedKubernetesVersion) {
  auto version = Kubectl(*cluster_, {"version", "-o", "json"});
  ASSERT_EQ(version.exit_code, 0) << version.output;
  const auto parsed = nlohmann::json::parse(version.output);
  EXPECT_EQ(parsed["serverVersion"]["gitVersion"], "v1.36.3");
}

TEST_F(ClusterTest, FakeNodesAreReady) {
  auto nodes = Kubectl(*cluster_, {"get", "nodes", "-o",
                                   "jsonpath={range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\" \"}{end}"});
  ASSERT_EQ(nodes.exit_code, 0) << nodes.output;
  EXPECT_EQ(nodes.output, "True True True True ");
}

TEST_F(ClusterTest, JobRunsToCompletionOnAFakeNode) {
  ASSERT_EQ(Kubectl(*cluster_, {"create", "job", "quick", "--image=agent:latest", "--", "true"})
                .exit_code,
            0);
  EXPECT_TRUE(PollFor(*cluster_, {"get", "job", "quick", "-o", "jsonpath={.status.succeeded}"},
                      "1", 60));
  auto node = Kubectl(*cluster_, {"get", "pods", "-l", "job-name=quick", "-o",
                                  "jsonpath={.items[0].spec.nodeName}"});
  EXPECT_THAT(node.output, HasSubstr("kwok-node-"));
}

TEST_F(ClusterTest, CompletionDelayAnnotationKeepsThePodRunning) {
  const std::string job = R"(apiVersion: batch/v1
kind: Job
metadata: {name: slow}
spec:
  template:
    metadata:
      annotations: {pod-complete.stage.kwok.x-k8s.io/delay: "4s"}
    spec:
      restartPolicy: Never
      containers: [{name: agent, image: "agent:latest"}]
)";
  ASSERT_EQ(Kubectl(*cluster_, {"apply", "-f", "-"}, job).exit_code, 0);
  EXPECT_TRUE(PollFor(*cluster_, {"get", "pods", "-l", "job-name=slow", "-o",
                                  "jsonpath={.items[0].status.phase}"},
                      "Running", 30));
  EXPECT_TRUE(PollFor(*cluster_, {"get", "job", "slow", "-o", "jsonpath={.status.succeeded}"},
                      "1", 60));
}

TEST_F(ClusterTest, StateSurvivesAnApiServerRestart) {
  ASSERT_EQ(Kubectl(*cluster_, {"create", "configmap", "kept", "--from-literal=k=v"}).exit_code, 0);
  Status restarted = cluster_->Restart("kube-apiserver");
  ASSERT_TRUE(restarted.ok()) << restarted.error().message;
  auto value = Kubectl(*cluster_, {"get", "configmap", "kept", "-o", "jsonpath={.data.k}"});
  EXPECT_EQ(value.output, "v");
}

TEST(ClusterLifecycleTest, TwoClustersRunSideBySideAndStopCleanly) {
  auto first = std::async(std::launch::async, [] { return LocalCluster::Start("pair-a"); });
  auto second = std::async(std::launch::async, [] { return LocalCluster::Start("pair-b"); });
  auto a = first.get();
  auto b = second.get();
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_NE((*a)->server(), (*b)->server());
  ASSERT_EQ(Kubectl(**a, {"create", "namespace", "only-in-a"}).exit_code, 0);
  EXPECT_NE(Kubectl(**b, {"get", "namespace", "only-in-a"}).exit_code, 0);

  const std::string kubeconfig = (*a)->kubeconfig();
  ASSERT_TRUE(Exists(kubeconfig));
  a->reset();
  EXPECT_FALSE(Exists(kubeconfig)) << "down.sh left the state behind";
  EXPECT_EQ(Kubectl(**b, {"get", "namespace", "default"}).exit_code, 0);
}

}  // namespace
}  // namespace agentbudget::e2e
