// The ledger's near-ceiling condition on a pod of the local control plane (with the
// KubeLedgerStore suite, whose cluster it shares): raised, then cleared, as one condition.
#include "operator/ledger_ceiling_pod.h"

#include <gtest/gtest.h>

#include <string>

#include "e2e/support/cluster_environment.h"
#include "e2e/support/local_cluster.h"
#include "kube/config.h"

namespace agentbudget::op {
namespace {

constexpr const char* kNamespace = "ledger-ceiling-pod";
constexpr const char* kPod = "operator-0";

class LedgerCeilingPodE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = e2e::ClusterEnvironment::Cluster();
    ASSERT_NE(cluster_, nullptr);
    auto config = kube::LoadKubeconfig(cluster_->kubeconfig());
    ASSERT_TRUE(config.ok()) << config.error().ToString();
    auto client = kube::Client::Create(*config);
    ASSERT_TRUE(client.ok()) << client.error().ToString();
    client_ = std::move(*client);
    Create(kube::resources::kNamespaces, "",
           {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", kNamespace}}}});
    Create(kube::resources::kServiceAccounts, kNamespace,
           {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", "default"}}}});
    const nlohmann::json pod = {
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata", {{"name", kPod}}},
        {"spec", {{"containers", {{{"name", "operator"}, {"image", "agentbudget-operator"}}}}}}};
    Create(kube::resources::kPods, kNamespace, pod);
    recorder_ = std::make_unique<kube::EventRecorder>(*client_, "agentbudget-operator", kPod);
  }

  // Creates `object` unless it exists.
  void Create(const kube::GroupVersionResource& resource, const std::string& ns,
              const nlohmann::json& object) {
    auto created = client_->Create(resource, ns, object);
    ASSERT_TRUE(created.ok() || created.error().code == ErrorCode::kAlreadyExists)
        << created.error().ToString();
  }

  // The pod's conditions of type LedgerCeilingReports::kCondition, as "status reason".
  std::vector<std::string> Conditions() {
    auto pod = client_->Get(kube::resources::kPods, kNamespace, kPod);
    EXPECT_TRUE(pod.ok());
    std::vector<std::string> found;
    for (const auto& condition :
         pod.ok() ? pod->value("/status/conditions"_json_pointer, nlohmann::json::array())
                  : nlohmann::json::array()) {
      if (condition.value("type", "") == LedgerCeilingReports::kCondition) {
        found.push_back(condition.value("status", "") + " " + condition.value("reason", ""));
      }
    }
    return found;
  }

  e2e::LocalCluster* cluster_ = nullptr;
  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<kube::EventRecorder> recorder_;
};

TEST_F(LedgerCeilingPodE2eTest, TheConditionIsSetOnThePodAndClearedInPlace) {
  LedgerCeilingPod reports(*client_, *recorder_, kNamespace, kPod, SystemClock::Instance());
  ASSERT_TRUE(reports.Condition(true, LedgerCeilingReports::kNearReason, "near"));
  EXPECT_EQ(Conditions(), (std::vector<std::string>{"True LedgerNearCeiling"}));
  ASSERT_TRUE(reports.Condition(false, LedgerCeilingReports::kBelowReason, "below"));
  EXPECT_EQ(Conditions(), (std::vector<std::string>{"False LedgerBelowCeiling"}));
}

TEST_F(LedgerCeilingPodE2eTest, AMissingPodIsAFailedWriteNotACrash) {
  LedgerCeilingPod reports(*client_, *recorder_, kNamespace, "no-such-pod", SystemClock::Instance());
  EXPECT_FALSE(reports.Condition(true, LedgerCeilingReports::kNearReason, "near"));
}

}  // namespace
}  // namespace agentbudget::op
