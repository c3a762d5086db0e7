// KubeLedgerStore compaction against the local control plane: what Load returns after a
// compaction is exactly the folded settled entries followed by the recent ones, and a
// segment a compaction failed to delete is never counted again.
#include "operator/authority/kube_ledger_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "common/base64.h"
#include "common/gzip.h"
#include "e2e/support/cluster_environment.h"
#include "e2e/support/local_cluster.h"
#include "kube/config.h"
#include "operator/authority/kube_ledger_objects.h"
#include "operator/authority/ledger_compaction.h"

namespace agentbudget::authority {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

const auto* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new e2e::ClusterEnvironment("kube-ledger-store-e2e"));

int64_t Spend(const std::vector<LedgerEntry>& entries) {
  int64_t total = 0;
  for (const LedgerEntry& entry : entries) {
    total += entry.cost_micros;
  }
  return total;
}

int64_t Spend(const Result<std::vector<LedgerEntry>>& entries) {
  EXPECT_TRUE(entries.ok());
  return entries.ok() ? Spend(*entries) : 0;
}

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
    // Each test starts from an empty ledger in the namespace (TearDown empties it).
    auto created = cluster_->Kubectl({"create", "namespace", kNamespace});
    ASSERT_TRUE(created.ok() && (created->exit_code == 0 ||
                                 created->output.find("AlreadyExists") != std::string::npos))
        << (created.ok() ? created->output : created.error().ToString());
    auto config = kube::LoadKubeconfig(cluster_->kubeconfig());
    ASSERT_TRUE(config.ok()) << config.error().ToString();
    auto client = kube::Client::Create(*config);
    ASSERT_TRUE(client.ok()) << client.error().ToString();
    client_ = std::move(*client);
    store_ = std::make_unique<KubeLedgerStore>(*client_, kNamespace, KubeLedgerStore::Options{});
    ASSERT_TRUE(store_->Load().ok());
  }

  void TearDown() override {
    if (cluster_ != nullptr) {
      auto deleted = cluster_->Kubectl(
          {"delete", "configmaps", "-n", kNamespace, "-l", "agentbudget.io/ledger"});
      EXPECT_TRUE(deleted.ok() && deleted->exit_code == 0);
    }
  }

  // The ledger's ConfigMaps as the API server holds them: their count and JSON bytes.
  std::pair<int64_t, int64_t> Held() {
    kube::ListOptions options;
    options.label_selector = "agentbudget.io/ledger";
    auto listed = client_->ListAll(kube::resources::kConfigMaps, kNamespace, options, 100);
    EXPECT_TRUE(listed.ok());
    int64_t bytes = 0;
    for (const auto& item : listed.ok() ? listed->items : std::vector<nlohmann::json>{}) {
      bytes += static_cast<int64_t>(item.dump().size());
    }
    return {listed.ok() ? static_cast<int64_t>(listed->items.size()) : 0, bytes};
  }

  Status CreateConfigMap(const std::string& name, const std::string& kind,
                         const std::string& entries) {
    auto created = client_->Create(
        kube::resources::kConfigMaps, kNamespace,
        {{"apiVersion", "v1"},
         {"kind", "ConfigMap"},
         {"metadata", {{"name", name}, {"labels", {{"agentbudget.io/ledger", kind}}}}},
         {"data", {{"entries", entries}}}});
    return created.ok() ? OkStatus() : Status(std::move(created).error());
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

  auto folded = store_->Compact({now - hours{25}, now - hours{25}});
  ASSERT_TRUE(folded.ok()) << folded.error().ToString();
  std::vector<LedgerEntry> expected = FoldEntries(settled, now - hours{25});
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
  folded = store_->Compact({now + hours{1}, now + hours{1}});
  ASSERT_TRUE(folded.ok()) << folded.error().ToString();
  std::vector<LedgerEntry> refolded = FoldEntries(settled, now + hours{1});
  refolded.insert(refolded.end(), recent.begin(), recent.end());
  std::vector<LedgerEntry> last = Batch("run-b", now - hours{1}, 3);
  refolded.insert(refolded.end(), last.begin(), last.end());
  loaded = store_->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  EXPECT_EQ(Dump(*loaded), Dump(FoldEntries(refolded, now + hours{1})));
  EXPECT_EQ(ConfigMaps("segment"), 0);
  EXPECT_EQ(ConfigMaps("checkpoint"), 2);  // the first checkpoint and a delta on it

  // Ten more deltas make a chain of twelve; the next compaction merges it into one
  // checkpoint. The spend stays exact throughout.
  int64_t spend = Spend(store_->Load());
  for (int delta = 0; delta < 11; ++delta) {
    const std::vector<LedgerEntry> batch = Batch("run-c", now - hours{1} + minutes{delta}, 2);
    ASSERT_TRUE(store_->Append(batch).ok());
    spend += Spend(batch);
    ASSERT_TRUE(store_->Compact({now + hours{1}, now + hours{1}}).ok());
    EXPECT_EQ(Spend(store_->Load()), spend);
  }
  EXPECT_EQ(ConfigMaps("segment"), 0);
  EXPECT_EQ(ConfigMaps("checkpoint"), 1);
}

// A merge writes its checkpoint a part at a time (it never holds the whole text): a chain
// of twelve holding more totals than one part takes merges into a checkpoint of several
// parts that loads exactly.
TEST_F(KubeLedgerStoreE2eTest, AMergeOfManyTotalsIsWrittenInPartsAndLoadsExact) {
  const core::SysSeconds now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  int64_t spend = 0;
  int64_t commits = 0;
  // The first compaction makes a checkpoint, eleven more a delta each, the thirteenth
  // merges the chain of twelve. Each batch is ~100 buckets of one run: ~1,300 totals.
  for (int round = 0; round < 13; ++round) {
    const std::vector<LedgerEntry> batch =
        Batch("run-" + std::to_string(round), now - hours{30}, 200);
    ASSERT_TRUE(store_->Append(batch).ok());
    spend += Spend(batch);
    commits += static_cast<int64_t>(batch.size());
    auto folded = store_->Compact({now + hours{1}, now + hours{1}});
    ASSERT_TRUE(folded.ok()) << folded.error().ToString();
  }
  auto loaded = store_->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  EXPECT_GT(loaded->size(), kube_ledger::kEntriesPerCheckpointPart);
  EXPECT_EQ(ConfigMaps("checkpoint"), 2);  // one checkpoint, in two parts
  EXPECT_EQ(ConfigMaps("segment"), 0);
  EXPECT_EQ(Spend(loaded), spend);
  int64_t counted = 0;
  for (const LedgerEntry& entry : *loaded) {
    counted += std::max<int64_t>(entry.folded, 1);
  }
  EXPECT_EQ(counted, commits);
}

TEST_F(KubeLedgerStoreE2eTest, TheCeilingIsNeverPassedAndFoldingMakesRoomAgain) {
  const core::SysSeconds now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  constexpr int64_t kCeiling = 64 << 10;
  store_ = std::make_unique<KubeLedgerStore>(*client_, kNamespace,
                                             KubeLedgerStore::Options{kCeiling});
  ASSERT_TRUE(store_->Load().ok());
  int appended = 0;
  Status refused = OkStatus();
  for (int batch = 0; batch < 1000 && refused.ok(); ++batch) {
    refused = store_->Append(Batch("run-a", now - hours{3} + minutes{batch}, 2));
    appended += refused.ok();
    const auto [objects, bytes] = Held();
    ASSERT_LE(bytes, kCeiling) << "after " << appended << " batches";
    EXPECT_GE(store_->Usage().bytes, bytes);  // never an under-count
    EXPECT_LE(store_->Usage().bytes, kCeiling);
  }
  ASSERT_FALSE(refused.ok()) << "the ceiling was never reached";
  EXPECT_EQ(refused.error().code, ErrorCode::kResourceExhausted);
  EXPECT_GT(appended, 5);
  const int64_t spend_before = Spend(store_->Load());

  // Folding the run's 15-minute buckets makes room; the spend stays exact.
  auto folded = store_->Compact({now - minutes{2}, now - hours{1}});
  ASSERT_TRUE(folded.ok()) << folded.error().ToString();
  EXPECT_GT(*folded, 0U);
  EXPECT_LE(Held().second, kCeiling);
  EXPECT_LT(store_->Usage().bytes, kCeiling / 4);
  ASSERT_TRUE(store_->Append(Batch("run-x", now - minutes{1}, 10)).ok());
  EXPECT_EQ(Spend(store_->Load()), spend_before + Spend(Batch("run-x", now - minutes{1}, 10)));
}

TEST_F(KubeLedgerStoreE2eTest, CorruptAndForeignConfigMapsAreReportedSkippedAndKept) {
  const core::SysSeconds now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  const std::vector<LedgerEntry> good = Batch("run-a", now - hours{1}, 4);
  ASSERT_TRUE(store_->Append(good).ok());
  // A segment whose second line is not an entry, one that is not JSON at all, and a
  // ConfigMap someone else labelled as the ledger's.
  ASSERT_TRUE(CreateConfigMap("agentbudget-ledger-0000000000000007", "segment",
                              good[0].ToJson().dump() + "\n{\"k\":\"c\",\"cost\":-1}\n")
                  .ok());
  ASSERT_TRUE(CreateConfigMap("agentbudget-ledger-0000000000000008", "segment", "not json\n").ok());
  ASSERT_TRUE(CreateConfigMap("my-settings", "segment", "").ok());

  store_ = std::make_unique<KubeLedgerStore>(*client_, kNamespace, KubeLedgerStore::Options{});
  auto loaded = store_->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  EXPECT_EQ(Dump(*loaded), Dump(good));  // nothing of the bad objects counted
  EXPECT_EQ(store_->Usage().skipped, 3);

  // Compaction folds past them but leaves them for inspection.
  ASSERT_TRUE(store_->Compact({now, now - hours{1}}).ok());
  EXPECT_EQ(ConfigMaps("segment"), 3);
  loaded = store_->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  EXPECT_EQ(Dump(*loaded), Dump(FoldEntries(good, now - hours{1})));
  EXPECT_EQ(store_->Usage().skipped, 3);
}

// Segments are stored gzipped under binaryData; a segment an earlier operator wrote as text
// under data.entries counts as before, and one whose gzip does not decode is skipped and
// kept, like any bad object.
TEST_F(KubeLedgerStoreE2eTest, SegmentsAreStoredGzippedAndTextSegmentsStillCount) {
  const core::SysSeconds now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  const std::vector<LedgerEntry> earlier = Batch("run-a", now - hours{31}, 3);
  ASSERT_TRUE(CreateConfigMap(kube_ledger::SegmentName(0), "segment",
                              kube_ledger::Lines(earlier.begin(), earlier.end()))
                  .ok());
  store_ = std::make_unique<KubeLedgerStore>(*client_, kNamespace, KubeLedgerStore::Options{});
  ASSERT_TRUE(store_->Load().ok());
  const std::vector<LedgerEntry> later = Batch("run-b", now - hours{30}, 200);
  ASSERT_TRUE(store_->Append(later).ok());

  kube::ListOptions options;
  options.field_selector = "metadata.name=" + kube_ledger::SegmentName(1);
  auto listed = client_->List(kube::resources::kConfigMaps, kNamespace, options);
  ASSERT_TRUE(listed.ok() && listed->items.size() == 1);
  const nlohmann::json& stored = listed->items[0];
  EXPECT_FALSE(stored.contains("data"));
  const std::string gzipped = stored["binaryData"][kube_ledger::kEntriesKey].get<std::string>();
  const std::string text = kube_ledger::Lines(later.begin(), later.end());
  EXPECT_LT(gzipped.size(), text.size() / 4) << "base64 of the gzip, against the text";
  std::printf("a segment of %zu entries: %zu bytes of JSON lines, %zu stored (gzip, base64)\n",
              later.size(), text.size(), gzipped.size());
  auto compressed = base64::Decode(gzipped);
  ASSERT_TRUE(compressed.ok());
  auto lines = gzip::Decompress(*compressed, text.size());
  ASSERT_TRUE(lines.ok()) << lines.error().message;
  EXPECT_EQ(*lines, text) << "readable with base64 -d | gunzip";

  auto bad = client_->Create(
      kube::resources::kConfigMaps, kNamespace,
      {{"apiVersion", "v1"},
       {"kind", "ConfigMap"},
       {"metadata",
        {{"name", kube_ledger::SegmentName(2)},
         {"labels", {{"agentbudget.io/ledger", "segment"}}}}},
       {"binaryData", {{kube_ledger::kEntriesKey, base64::Encode("not gzip")}}}});
  ASSERT_TRUE(bad.ok()) << bad.error().ToString();

  store_ = std::make_unique<KubeLedgerStore>(*client_, kNamespace, KubeLedgerStore::Options{});
  std::vector<LedgerEntry> both = earlier;
  both.insert(both.end(), later.begin(), later.end());
  auto loaded = store_->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  EXPECT_EQ(Dump(*loaded), Dump(both));
  EXPECT_EQ(store_->Usage().skipped, 1);

  // Folded together into a gzipped checkpoint; the bad segment stays for inspection.
  ASSERT_TRUE(store_->Compact({now, now - hours{40}}).ok());
  EXPECT_EQ(ConfigMaps("segment"), 1);
  EXPECT_EQ(ConfigMaps("checkpoint"), 1);
  loaded = store_->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  EXPECT_EQ(Spend(loaded), Spend(both));
}

// A checkpoint part that does not decode is reported and kept; Load then reads the older
// complete chain (what only the bad part held is left out, never guessed).
TEST_F(KubeLedgerStoreE2eTest, ACorruptCheckpointPartIsSkippedForTheOlderChain) {
  const core::SysSeconds now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  const std::vector<LedgerEntry> first = Batch("run-a", now - hours{3}, 4);
  ASSERT_TRUE(store_->Append(first).ok());
  ASSERT_TRUE(store_->Compact({now, now - hours{1}}).ok());
  ASSERT_TRUE(store_->Append(Batch("run-b", now - hours{2}, 3)).ok());
  ASSERT_TRUE(store_->Compact({now, now - hours{1}}).ok());
  ASSERT_EQ(ConfigMaps("checkpoint"), 2);  // the first checkpoint and a delta on it

  // The delta's part replaced by one with the same name and annotations but bad lines.
  kube::ListOptions options;
  options.label_selector = "agentbudget.io/ledger=checkpoint";
  auto listed = client_->List(kube::resources::kConfigMaps, kNamespace, options);
  ASSERT_TRUE(listed.ok()) << listed.error().ToString();
  nlohmann::json delta;
  for (const auto& item : listed->items) {
    if (item.contains(nlohmann::json::json_pointer("/metadata/annotations/agentbudget.io~1ledger-base"))) {
      delta = item;
    }
  }
  ASSERT_FALSE(delta.is_null());
  const std::string name = delta["metadata"]["name"];
  ASSERT_TRUE(client_->Delete(kube::resources::kConfigMaps, kNamespace, name).ok());
  nlohmann::json corrupt = {{"apiVersion", "v1"},
                            {"kind", "ConfigMap"},
                            {"metadata",
                             {{"name", name},
                              {"labels", delta["metadata"]["labels"]},
                              {"annotations", delta["metadata"]["annotations"]}}},
                            {"data", {{"entries", "not json\n"}}}};
  ASSERT_TRUE(client_->Create(kube::resources::kConfigMaps, kNamespace, corrupt).ok());

  store_ = std::make_unique<KubeLedgerStore>(*client_, kNamespace, KubeLedgerStore::Options{});
  auto loaded = store_->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  EXPECT_EQ(Dump(*loaded), Dump(FoldEntries(first, now - hours{1})));
  EXPECT_EQ(store_->Usage().skipped, 1);
  EXPECT_EQ(ConfigMaps("checkpoint"), 2);  // kept for inspection
}

}  // namespace
}  // namespace agentbudget::authority
