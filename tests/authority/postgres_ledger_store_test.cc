// PostgresLedgerStore against a real PostgreSQL server that each test starts in a temporary
// directory (e2e/support/postgres_server.h): batches, replayed keys, the schema's
// migrations, the single writer's fence, a server that is down, frozen or slow, rows that
// are not ledger entries, and compaction.
#include "operator/authority/postgres_ledger_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "e2e/support/postgres_server.h"
#include "operator/authority/pg_connection.h"
#include "operator/authority/postgres_schema.h"
#include "tests/authority/focus_entries.h"

namespace agentbudget::authority {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

std::vector<std::string> Dump(const std::vector<LedgerEntry>& entries) {
  std::vector<std::string> lines;
  for (const LedgerEntry& entry : entries) {
    lines.push_back(entry.ToJson().dump());
  }
  return lines;
}

// The folded totals at the front of `entries`, in any order, then the rest in order.
std::vector<std::string> DumpTotalsAnyOrder(const std::vector<LedgerEntry>& entries) {
  std::vector<std::string> lines = Dump(entries);
  const auto totals_end = std::find_if(entries.begin(), entries.end(),
                                       [](const LedgerEntry& entry) { return entry.folded == 0; });
  std::sort(lines.begin(), lines.begin() + (totals_end - entries.begin()));
  return lines;
}

// `count` commits of run "run-a", keys "<prefix>0", "<prefix>1", ..., at `at`.
std::vector<LedgerEntry> Commits(const std::string& prefix, int count, core::SysSeconds at) {
  std::vector<LedgerEntry> entries;
  for (int i = 0; i < count; ++i) {
    LedgerEntry entry = Entries()[0];
    entry.run = "run-a";
    entry.id = "r-" + prefix + std::to_string(i);
    entry.idempotency_key = prefix + std::to_string(i);
    entry.cost_micros = 1000 + i;
    entry.at = at;
    entries.push_back(entry);
  }
  return entries;
}

class PostgresLedgerStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = e2e::PostgresServer::Start();
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(*server);
  }

  PostgresLedgerStore::Options StoreOptions(milliseconds timeout = milliseconds{5000}) const {
    return {server_->conninfo(), timeout};
  }

  std::unique_ptr<PostgresLedgerStore> Writer() {
    auto store = OpenPostgresLedgerWriter(StoreOptions());
    EXPECT_TRUE(store.ok()) << store.error().message << "\n" << server_->Log();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // Runs `sql` on a connection of its own.
  void Sql(const std::string& sql) {
    PgConnection connection(server_->conninfo(), milliseconds{5000});
    Status done = connection.ExecScript(sql);
    ASSERT_TRUE(done.ok()) << done.error().message;
  }

  std::unique_ptr<e2e::PostgresServer> server_;
};

TEST_F(PostgresLedgerStoreTest, AppendedBatchesLoadBackInAppendOrder) {
  auto store = Writer();
  ASSERT_NE(store, nullptr);
  const std::vector<LedgerEntry> first = Entries();
  const std::vector<LedgerEntry> second = Commits("k", 3, kNoon);
  ASSERT_TRUE(store->Append(first).ok());
  ASSERT_TRUE(store->Append(second).ok());

  auto loaded = store->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  std::vector<LedgerEntry> expected = first;
  expected.erase(expected.begin() + 2);  // Entries() holds the same call twice
  expected.insert(expected.end(), second.begin(), second.end());
  EXPECT_EQ(Dump(*loaded), Dump(expected));
  EXPECT_EQ(store->Usage().skipped, 0);
}

TEST_F(PostgresLedgerStoreTest, BatchAppendedAgainStoresEachKeyOnce) {
  auto store = Writer();
  ASSERT_NE(store, nullptr);
  const std::vector<LedgerEntry> batch = Commits("k", 5, kNoon);
  ASSERT_TRUE(store->Append(batch).ok());
  // As after an append whose commit was not confirmed: the same batch, plus one new entry.
  std::vector<LedgerEntry> again = batch;
  again.push_back(Commits("new", 1, kNoon)[0]);
  ASSERT_TRUE(store->Append(again).ok());

  auto loaded = store->Load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(Dump(*loaded), Dump(again));
}

TEST_F(PostgresLedgerStoreTest, SameKeyInAnotherRunOrKindIsAnotherEntry) {
  auto store = Writer();
  ASSERT_NE(store, nullptr);
  std::vector<LedgerEntry> batch = Commits("k", 1, kNoon);
  batch.push_back(batch[0]);
  batch[1].run = "run-b";
  batch.push_back(batch[0]);
  batch[2].kind = LedgerEntry::Kind::kEvent;
  ASSERT_TRUE(store->Append(batch).ok());
  auto loaded = store->Load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->size(), 3u);
}

TEST_F(PostgresLedgerStoreTest, KeyWithNulCharacterRoundTrips) {
  auto store = Writer();
  ASSERT_NE(store, nullptr);
  std::vector<LedgerEntry> batch = Commits("k", 1, kNoon);
  batch[0].idempotency_key = std::string("a\0b", 3);
  ASSERT_TRUE(store->Append(batch).ok());
  ASSERT_TRUE(store->Append(batch).ok());
  auto loaded = store->Load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(Dump(*loaded), Dump(batch));
}

TEST_F(PostgresLedgerStoreTest, MigrationRecordsTheSchemaVersionOnce) {
  PostgresLedgerStore first(StoreOptions());
  ASSERT_TRUE(first.Migrate().ok());
  PostgresLedgerStore second(StoreOptions());
  ASSERT_TRUE(second.Migrate().ok());
  PgConnection connection(server_->conninfo(), milliseconds{5000});
  auto versions =
      connection.Exec("SELECT version FROM agentbudget_schema_version ORDER BY version");
  ASSERT_TRUE(versions.ok());
  // One row per migration, each once.
  ASSERT_EQ(versions->size(), LedgerSchemaVersion());
  for (int i = 0; i < versions->size(); ++i) {
    EXPECT_EQ(std::atoi(versions->Text(i, 0)), i + 1);
  }
}

TEST_F(PostgresLedgerStoreTest, NewerSchemaIsRefusedNamingBothVersions) {
  PostgresLedgerStore store(StoreOptions());
  ASSERT_TRUE(store.Migrate().ok());
  Sql("INSERT INTO agentbudget_schema_version (version) VALUES (99)");

  Status migrated = store.TakeOver();
  ASSERT_FALSE(migrated.ok());
  EXPECT_EQ(migrated.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(migrated.error().message.find("schema version 99"), std::string::npos)
      << migrated.error().message;
  EXPECT_NE(migrated.error().message.find("(" + std::to_string(LedgerSchemaVersion()) + ")"),
            std::string::npos);
  ASSERT_FALSE(store.Append(Commits("k", 1, kNoon)).ok());
}

TEST_F(PostgresLedgerStoreTest, StoreThatHasNotTakenOverCannotAppend) {
  PostgresLedgerStore store(StoreOptions());
  ASSERT_TRUE(store.Migrate().ok());
  Status appended = store.Append(Commits("k", 1, kNoon));
  ASSERT_FALSE(appended.ok());
  EXPECT_EQ(appended.error().code, ErrorCode::kFailedPrecondition);
}

TEST_F(PostgresLedgerStoreTest, DeposedWriterIsRefusedAndItsEarlierAppendsAreSeen) {
  auto old_leader = Writer();
  ASSERT_NE(old_leader, nullptr);
  ASSERT_TRUE(old_leader->Append(Commits("old", 2, kNoon)).ok());

  auto new_leader = Writer();  // takes over
  ASSERT_NE(new_leader, nullptr);
  auto recovered = new_leader->Load();
  ASSERT_TRUE(recovered.ok());
  EXPECT_EQ(Dump(*recovered), Dump(Commits("old", 2, kNoon)));

  Status late = old_leader->Append(Commits("late", 1, kNoon));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(late.error().message.find("another authority took over"), std::string::npos);
  auto compacted = old_leader->Compact({kNoon + hours{1}, kNoon});
  ASSERT_FALSE(compacted.ok());
  EXPECT_EQ(compacted.error().code, ErrorCode::kFailedPrecondition);

  ASSERT_TRUE(new_leader->Append(Commits("new", 1, kNoon)).ok());
  auto loaded = new_leader->Load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->size(), 3u);  // the old leader's two, the new one's; not the late one
}

TEST_F(PostgresLedgerStoreTest, StoppedServerMakesCallsUnavailableUntilItIsBack) {
  auto store = Writer();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Append(Commits("a", 1, kNoon)).ok());
  ASSERT_TRUE(server_->Stop().ok());

  Status appended = store->Append(Commits("b", 1, kNoon));
  ASSERT_FALSE(appended.ok());
  EXPECT_EQ(appended.error().code, ErrorCode::kUnavailable) << appended.error().message;
  auto loaded = store->Load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, ErrorCode::kUnavailable);

  ASSERT_TRUE(server_->Resume().ok());
  ASSERT_TRUE(store->Append(Commits("b", 1, kNoon)).ok());
  auto after = store->Load();
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ(after->size(), 2u);
}

TEST_F(PostgresLedgerStoreTest, FrozenServerMakesCallsUnavailableAfterTheTimeout) {
  auto opened = OpenPostgresLedgerWriter(StoreOptions(milliseconds{500}));
  ASSERT_TRUE(opened.ok());
  PostgresLedgerStore& store = **opened;
  ASSERT_TRUE(server_->Freeze().ok());

  Status appended = store.Append(Commits("a", 1, kNoon));
  ASSERT_FALSE(appended.ok());
  EXPECT_EQ(appended.error().code, ErrorCode::kUnavailable) << appended.error().message;
  auto loaded = store.Load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, ErrorCode::kUnavailable);

  ASSERT_TRUE(server_->Thaw().ok());
  ASSERT_TRUE(store.Append(Commits("a", 1, kNoon)).ok());
  auto after = store.Load();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), 1u);
}

TEST_F(PostgresLedgerStoreTest, AppendBlockedPastTheTimeoutIsUnavailableAndLeavesNothing) {
  auto opened = OpenPostgresLedgerWriter(StoreOptions(milliseconds{500}));
  ASSERT_TRUE(opened.ok());
  PostgresLedgerStore& store = **opened;
  // Another session holds the table, as a slow migration or a stuck vacuum full would.
  PgConnection blocker(server_->conninfo(), milliseconds{5000});
  ASSERT_TRUE(blocker.ExecScript("BEGIN; LOCK TABLE agentbudget_ledger IN ACCESS EXCLUSIVE MODE").ok());

  Status appended = store.Append(Commits("a", 3, kNoon));
  ASSERT_FALSE(appended.ok());
  EXPECT_EQ(appended.error().code, ErrorCode::kUnavailable) << appended.error().message;

  ASSERT_TRUE(blocker.ExecScript("ROLLBACK").ok());
  auto loaded = store.Load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(loaded->empty());
  ASSERT_TRUE(store.Append(Commits("a", 3, kNoon)).ok());
}

TEST_F(PostgresLedgerStoreTest, CorruptAndForeignRowsAreReportedAndSkipped) {
  auto store = Writer();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Append(Commits("k", 2, kNoon)).ok());
  const std::string entry = Commits("x", 1, kNoon)[0].ToJson().dump();
  // Not JSON; JSON but no entry; an entry whose columns name another run; one whose key
  // column disagrees.
  Sql("INSERT INTO agentbudget_ledger (kind, run, idempotency_key, at, entry) VALUES "
      "('c', 'run-a', '\"j\"', 0, '{not json'), "
      "('c', 'run-a', '\"k\"', 0, '{\"cost\": 5}'), "
      "('c', 'run-other', '\"x0\"', 0, '" + entry + "'), "
      "('c', 'run-a', '\"y\"', 0, '" + entry + "')");

  auto loaded = store->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(Dump(*loaded), Dump(Commits("k", 2, kNoon)));
  EXPECT_EQ(store->Usage().skipped, 4);
}

TEST_F(PostgresLedgerStoreTest, CompactionLoadsAsTheInMemoryStoreDoes) {
  auto store = Writer();
  ASSERT_NE(store, nullptr);
  InMemoryLedgerStore reference;
  const std::vector<std::vector<LedgerEntry>> batches = {
      Commits("old", 4, kNoon - hours{30}), Entries(), Commits("new", 3, kNoon + hours{2})};
  for (const auto& batch : batches) {
    ASSERT_TRUE(store->Append(batch).ok());
    ASSERT_TRUE(reference.Append(batch).ok());
  }
  // The in-memory store keeps the duplicate Entries() holds; the ledger counts it once.
  const CompactOptions before{kNoon + hours{1}, kNoon + hours{1}};
  auto folded = store->Compact(before);
  ASSERT_TRUE(folded.ok()) << folded.error().message;
  auto expected_folded = reference.Compact(before);
  ASSERT_TRUE(expected_folded.ok());
  EXPECT_EQ(*folded + 1, *expected_folded);

  // Folded bucket by bucket here, in one pass there: the same totals, maybe in another order.
  auto loaded = store->Load();
  ASSERT_TRUE(loaded.ok());
  auto expected = reference.Load();
  EXPECT_EQ(DumpTotalsAnyOrder(*loaded), DumpTotalsAnyOrder(*expected));

  // Folding again changes nothing: the totals fold into themselves.
  auto again = store->Compact(before);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0u);
  auto reloaded = store->Load();
  ASSERT_TRUE(reloaded.ok());
  EXPECT_EQ(DumpTotalsAnyOrder(*reloaded), DumpTotalsAnyOrder(*expected));
}

// Folded totals past retention are deleted; the others, and recent raw rows, stay.
TEST_F(PostgresLedgerStoreTest, CompactionDropsFoldedTotalsPastRetention) {
  auto store = Writer();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Append(Commits("old", 3, kNoon - hours{30})).ok());
  ASSERT_TRUE(store->Append(Commits("mid", 2, kNoon - hours{3})).ok());
  ASSERT_TRUE(store->Append(Commits("new", 1, kNoon + hours{2})).ok());
  // Keeps buckets ending after kNoon - 4 h: "mid" stays folded, "old" goes.
  auto compacted = store->Compact({kNoon + hours{1}, kNoon + hours{1}, kNoon - hours{4}});
  ASSERT_TRUE(compacted.ok()) << compacted.error().message;
  auto loaded = store->Load();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->size(), 2u);
  EXPECT_EQ((*loaded)[0].folded, 2);
  EXPECT_EQ((*loaded)[0].cost_micros, 1000 + 1001);
  EXPECT_EQ((*loaded)[1].idempotency_key, "new0");
}

// More settled rows than one step folds: the steps fold into the same bucket's total.
TEST_F(PostgresLedgerStoreTest, CompactionBeyondOneStepFoldsIntoOneTotalPerGroup) {
  auto store = Writer();
  ASSERT_NE(store, nullptr);
  int64_t cost = 0;
  for (int batch = 0; batch < 25; ++batch) {
    const auto entries = Commits("b" + std::to_string(batch) + "-", 1000, kNoon - hours{30});
    for (const LedgerEntry& entry : entries) {
      cost += entry.cost_micros;
    }
    ASSERT_TRUE(store->Append(entries).ok());
  }
  auto folded = store->Compact({kNoon, kNoon});
  ASSERT_TRUE(folded.ok()) << folded.error().message;
  EXPECT_EQ(*folded, 24'999u);
  auto loaded = store->Load();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].folded, 25'000);
  EXPECT_EQ((*loaded)[0].cost_micros, cost);
}

TEST_F(PostgresLedgerStoreTest, UsageIsTheTableAsLastMeasured) {
  auto store = Writer();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Usage().bytes, 0);
  ASSERT_TRUE(store->Append(Commits("k", 300, kNoon)).ok());
  Sql("ANALYZE agentbudget_ledger");
  ASSERT_TRUE(store->Load().ok());
  const StoreUsage usage = store->Usage();
  EXPECT_GT(usage.bytes, 300 * 200);  // the entries' JSON alone is larger
  EXPECT_EQ(usage.objects, 300);
  EXPECT_EQ(usage.ceiling_bytes, 0);
  EXPECT_EQ(usage.skipped, 0);
}

// The table's bound: it holds the folded totals and the unfolded recent rows; the space of
// rows folded away is reused, so repeated days of the same runs do not grow it.
TEST_F(PostgresLedgerStoreTest, TableStaysTheSizeOfWhatItHoldsAcrossCompactions) {
  auto store = Writer();
  ASSERT_NE(store, nullptr);
  std::vector<int64_t> bytes;
  for (int round = 0; round < 8; ++round) {
    ASSERT_TRUE(store->Append(Commits("r" + std::to_string(round) + "-", 2000,
                                      kNoon - hours{30})).ok());
    auto folded = store->Compact({kNoon, kNoon});
    ASSERT_TRUE(folded.ok()) << folded.error().message;
    ASSERT_EQ(store->Usage().objects, 1);  // one total: same run, model and bucket
    bytes.push_back(store->Usage().bytes);
  }
  // 16,000 entries went through it; it holds one row. Later rounds reuse the first ones'
  // space (each round's 2,000 rows would otherwise add about as much as the first round
  // left): after the second round it grows by less than a tenth, index pages aside.
  EXPECT_LE(bytes.back(), bytes[1] + bytes[1] / 10);
}

}  // namespace
}  // namespace agentbudget::authority
