// `agentbudget-operator migrate-ledger` (part of operator_postgres_e2e_test, on its cluster):
// a ledger written on the Kubernetes API, with a compaction's checkpoint and a batch stored
// twice, is copied into an empty PostgreSQL ledger that then loads the same entries; a
// second run is refused, as it would count the spend twice.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "e2e/support/cluster_environment.h"
#include "e2e/support/command.h"
#include "e2e/support/local_cluster.h"
#include "e2e/support/postgres_server.h"
#include "kube/config.h"
#include "operator/authority/kube_ledger_store.h"
#include "operator/authority/postgres_ledger_store.h"
#include "tests/authority/focus_entries.h"

namespace agentbudget::e2e {
namespace {

using authority::LedgerEntry;

constexpr const char* kSource = "ledger-source";

std::vector<std::string> Dump(const std::vector<LedgerEntry>& entries) {
  std::vector<std::string> lines;
  for (const LedgerEntry& entry : entries) {
    lines.push_back(entry.ToJson().dump());
  }
  return lines;
}

TEST(LedgerMigrationE2eTest, KubernetesLedgerIsCopiedOnceIntoAnEmptyPostgresLedger) {
  LocalCluster* cluster = ClusterEnvironment::Cluster();
  ASSERT_NE(cluster, nullptr);
  auto created = cluster->Kubectl({"create", "namespace", kSource});
  ASSERT_TRUE(created.ok() && created->exit_code == 0) << (created.ok() ? created->output : "");
  auto config = kube::LoadKubeconfig(cluster->kubeconfig());
  ASSERT_TRUE(config.ok());
  auto client = kube::Client::Create(*config);
  ASSERT_TRUE(client.ok());
  authority::KubeLedgerStore kube_store(**client, kSource, {});
  ASSERT_TRUE(kube_store.Load().ok());
  // Old spend folded into a checkpoint, then recent batches, one of them stored twice.
  const std::vector<LedgerEntry> entries = authority::Entries();
  ASSERT_TRUE(kube_store.Append({entries[3]}).ok());
  const auto cutoff = authority::kNoon - std::chrono::hours{24};
  ASSERT_TRUE(kube_store.Compact({cutoff, cutoff}).ok());
  const std::vector<LedgerEntry> recent = {entries[0], entries[1]};
  ASSERT_TRUE(kube_store.Append(recent).ok());
  ASSERT_TRUE(kube_store.Append(recent).ok());
  auto source = kube_store.Load();
  ASSERT_TRUE(source.ok());

  auto server = PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.error().message;
  const std::string dsn_file = ::testing::TempDir() + "/agentbudget-migration-dsn";
  std::ofstream(dsn_file) << (*server)->conninfo() << "\n";
  const std::vector<std::string> migrate = {
      AGENTBUDGET_OPERATOR_BINARY, "migrate-ledger", "--kubeconfig=" + cluster->kubeconfig(),
      std::string("--namespace=") + kSource, "--postgres-dsn-file=" + dsn_file};
  auto first = RunCommand(migrate);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->exit_code, 0) << first->output;

  authority::PostgresLedgerStore postgres({(*server)->conninfo(), std::chrono::seconds{5}});
  auto copied = postgres.Load();
  ASSERT_TRUE(copied.ok()) << copied.error().message;
  // Everything the Kubernetes ledger holds, the batch stored twice once.
  std::vector<LedgerEntry> expected(source->begin(), source->end() - 2);
  EXPECT_EQ(Dump(*copied), Dump(expected));
  EXPECT_EQ(copied->front().folded, 1);

  auto second = RunCommand(migrate);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->exit_code, 1);
  EXPECT_NE(second->output.find("already holds entries"), std::string::npos) << second->output;
  auto unchanged = postgres.Load();
  ASSERT_TRUE(unchanged.ok());
  EXPECT_EQ(Dump(*unchanged), Dump(expected));
}

}  // namespace
}  // namespace agentbudget::e2e
