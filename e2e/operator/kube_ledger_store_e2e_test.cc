// KubeLedgerStore compaction against the local control plane: what Load returns after a
// compaction is exactly the folded settled entries followed by the recent ones, and a
// segment a compaction failed to delete is never counted again.
#include "operator/authority/kube_ledger_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "e2e/support/cluster_environment.h"
#include "e2e/support/local_cluster.h"
#include "kube/config.h"
#include "operator/authority/ledger_compaction.h"

namespace agentbudget::authority {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

const auto* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new e2e::ClusterEnvironment("operator-ledger-e2e"));

std::vector<std::string> Dump(const std::vector<LedgerEntry>& entries) {
  std::vector<std::string> lines;
  for (const LedgerEntry& entry : entries) {
    lines.push_back(entry.ToJson().dump());
  }
  return lines;
}

class KubeLedgerStoreE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = e2e::ClusterEnvironment::Cluster();
    ASSERT_NE(cluster_, nullptr);
    auto created = cluster_->Kubectl({"create", "namespace", kNamespace});
    ASSERT_TRUE(created.ok() && created->exit_code == 0)
        << (created.ok() ? created->output : created.error().ToString());
    auto config = kube::LoadKubeconfig(cluster_->kubeconfig());
    ASSERT_TRUE(config.ok()) << config.error().ToString();
    auto client = kube::Client::Create(*config);
    ASSERT_TRUE(client.ok()) << client.error().ToString();
    client_ = std::move(*client);
    store_ = std::make_unique<KubeLedgerStore>(*client_, kNamespace);
    ASSERT_TRUE(store_->Load().ok());
  }

  // A batch of `count` commits by `run`, 7 minutes apart from `start`.
  static std::vector<LedgerEntry> Batch(const std::string& run, core::SysSeconds start, int count) {
    std::vector<LedgerEntry> batch;
    for (int i = 0; i < count; ++i) {
      LedgerEntry entry;
      entry.id = "r-" + run + "-" + std::to_string(start.time_since_epoch().count()) + "-" +
                 std::to_string(i);
      entry.run = run;
      entry.idempotency_key = entry.id + "-c";
      entry.request_hash = static_cast<uint64_t>(i) + 1;
      entry.namespace_name = "agents";
      entry.attribution = {{"team", "payments"}, {"user", "alice"}};
      entry.model = "claude-sonnet-4-5";
      entry.cost_micros = 1'000 + i;
      entry.tokens = 900;
      entry.at = start + minutes{7 * i};
      entry.charges = {{"org", ""}, {"per-user", "alice"}};
      batch.push_back(std::move(entry));
    }
    return batch;
  }

  int ConfigMaps(const std::string& kind) {
    auto listed = cluster_->Kubectl({"get", "configmaps", "-n", kNamespace, "-l",
                                     "agentbudget.io/ledger=" + kind, "-o", "name"});
    EXPECT_TRUE(listed.ok() && listed->exit_code == 0);
    int count = 0;
    for (char c : listed.ok() ? listed->output : "") {
      count += c == '\n';
    }
    return count;
  }

  static constexpr const char* kNamespace = "ledger-compaction";
  e2e::LocalCluster* cluster_ = nullptr;
  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<KubeLedgerStore> store_;
};

TEST_F(KubeLedgerStoreE2eTest, CompactionFoldsSettledSegmentsAndLoadStaysExact) {
  const core::SysSeconds now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  std::vector<LedgerEntry> settled;
  std::vector<LedgerEntry> recent;
  for (int day = 3; day >= 2; --day) {
    for (const char* run : {"run-a", "run-b"}) {
      std::vector<LedgerEntry> batch = Batch(run, now - hours{24 * day}, 20);
      ASSERT_TRUE(store_->Append(batch).ok());
      settled.insert(settled.end(), batch.begin(), batch.end());
    }
  }
  // A batch appended twice (a retried Create that had landed): still counted once.
  ASSERT_TRUE(store_->Append(Batch("run-a", now - hours{72}, 20)).ok());
  std::vector<LedgerEntry> fresh = Batch("run-a", now - hours{1}, 5);
  ASSERT_TRUE(store_->Append(fresh).ok());
  recent.insert(recent.end(), fresh.begin(), fresh.end());

  auto folded = store_->Compact(now - hours{25});
  ASSERT_TRUE(folded.ok()) << folded.error().ToString();
  std::vector<LedgerEntry> expected = FoldEntries(settled);
  EXPECT_EQ(*folded, settled.size() + 20 - expected.size());
  expected.insert(expected.end(), recent.begin(), recent.end());
  auto loaded = store_->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  EXPECT_EQ(Dump(*loaded), Dump(expected));
  EXPECT_EQ(ConfigMaps("segment"), 1);
  EXPECT_EQ(ConfigMaps("checkpoint"), 1);

  // A folded segment that a crash left behind (its deletion never ran) is not read again.
  ASSERT_TRUE(client_
                  ->Create(kube::resources::kConfigMaps, kNamespace,
                           {{"apiVersion", "v1"},
                            {"kind", "ConfigMap"},
                            {"metadata",
                             {{"name", "agentbudget-ledger-0000000000000000"},
                              {"labels", {{"agentbudget.io/ledger", "segment"}}}}},
                            {"data", {{"entries", settled[0].ToJson().dump() + "\n"}}}})
                  .ok());
  loaded = store_->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  EXPECT_EQ(Dump(*loaded), Dump(expected));

  // Once the recent entries settle too, a second compaction folds the checkpoint again and
  // removes the left-behind segment.
  ASSERT_TRUE(store_->Append(Batch("run-b", now - hours{1}, 3)).ok());
  folded = store_->Compact(now + hours{1});
  ASSERT_TRUE(folded.ok()) << folded.error().ToString();
  std::vector<LedgerEntry> refolded = FoldEntries(settled);
  refolded.insert(refolded.end(), recent.begin(), recent.end());
  std::vector<LedgerEntry> last = Batch("run-b", now - hours{1}, 3);
  refolded.insert(refolded.end(), last.begin(), last.end());
  loaded = store_->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  EXPECT_EQ(Dump(*loaded), Dump(FoldEntries(refolded)));
  EXPECT_EQ(ConfigMaps("segment"), 0);
  EXPECT_EQ(ConfigMaps("checkpoint"), 1);
}

}  // namespace
}  // namespace agentbudget::authority
