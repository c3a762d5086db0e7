// A simulated fleet day for the durable ledger, under an injected clock: reserve+commit
// pairs by runs of 1,000 engineers in 200 teams, charged to 50 budgets (one perKey over the
// engineers), through the operator's Ledger and a ledger store, with housekeeping's
// compaction as the operator runs it. Prints the operator's peak RSS, the ledger's peak and
// final bytes and objects in its store, API writes per simulated second, the time from a
// restart to serving at the end of the day, the FOCUS export's time, and checks that the
// ledger, the FOCUS export and the org budget all equal the acknowledged spend to the
// micro-dollar.
//
//   fleet_day_bench [--store=kube|postgres|memory] [--design=folding|unfolded] [--scale=1]
//                   [--group-commit-seconds=10] [--stop-bytes=1073741824] [--stop-rss-mib=2048]
//
// --scale=1 is 2,000,000 pairs over 10,000 runs (each run active for an hour, a pair every
// 18 s); --scale=0.05 is a quick check. --store=kube starts a local control plane (cluster
// "fleet-day-<design>") and keeps the ledger in its etcd; bytes and objects are then measured
// by listing the ledger's ConfigMaps every simulated 15 minutes and at the end, and API
// writes are the API server's own count of ConfigMap creates and deletes. --store=postgres
// starts a PostgreSQL server (e2e/support/postgres_server.h) and keeps the ledger in it;
// bytes and objects are then the table's size and estimated rows as the store last
// measured them (PostgresLedgerStore::Usage). --design=unfolded
// runs the ledger as it was before folding within minutes: idempotency answers kept 24 h,
// compaction hourly of what is older than 25 h, no ceiling; it stops where it would
// pass --stop-bytes in etcd or --stop-rss-mib of memory, and says so. Commits are
// acknowledged (durable) before the clock moves on, so each simulated second is one group
// commit or a few.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <malloc.h>

#include <nlohmann/json.hpp>

#include "common/mutex.h"
#include "core/budget_spec.h"
#include "e2e/support/local_cluster.h"
#include "e2e/support/postgres_server.h"
#include "kube/config.h"
#include "meter/rate_card_loader.h"
#include "operator/authority/focus_export.h"
#include "operator/authority/kube_ledger_store.h"
#include "operator/authority/postgres_ledger_store.h"
#include "operator/authority/ledger.h"
#include "operator/housekeeping.h"
#include "operator/ledger_ceiling.h"

namespace agentbudget::authority {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using Wall = std::chrono::steady_clock;

constexpr int64_t kEngineers = 1000;
constexpr int64_t kTeams = 200;
constexpr int64_t kBudgets = 50;
constexpr seconds kDay{86400};
constexpr seconds kRunLength{3600};
constexpr const char* kNamespace = "agentbudget-system";
// 2026-11-02 00:00:00 UTC, a Monday.
const std::chrono::system_clock::time_point kStart{seconds{1'793'577'600}};

// A clock the simulation moves; wall and monotonic time advance together. Thread-safe.
class SimulatedClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    MutexLock lock(mu_);
    return kStart + elapsed_;
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    MutexLock lock(mu_);
    return std::chrono::steady_clock::time_point{hours{1000} + elapsed_};
  }
  void Advance(seconds by) {
    MutexLock lock(mu_);
    elapsed_ += by;
  }

 private:
  mutable Mutex mu_;
  seconds elapsed_ GUARDED_BY(mu_){0};
};

std::string Flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]).rfind(prefix, 0) == 0) {
      return argv[i] + prefix.size();
    }
  }
  return fallback;
}

// VmHWM (peak) or VmRSS of this process, in MiB.
double MemoryMib(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      return std::atof(line.c_str() + field.size() + 1) / 1024.0;
    }
  }
  return 0;
}

// Where the ledger is kept: the store, and for the Kubernetes API the cluster holding it.
struct Backend {
  std::unique_ptr<e2e::LocalCluster> cluster;
  std::unique_ptr<kube::Client> client;
  std::unique_ptr<e2e::PostgresServer> postgres;
  std::unique_ptr<LedgerStore> store;
  std::string kind;
  std::string design;  // names the cluster, so both designs can run at once
  int64_t ceiling_bytes = 0;
};

// The one place a store is chosen: "kube" (a local control plane), "postgres" (a local
// PostgreSQL server) or "memory".
Result<std::unique_ptr<LedgerStore>> OpenStore(Backend& backend) {
  if (backend.kind == "memory") {
    return std::unique_ptr<LedgerStore>(std::make_unique<InMemoryLedgerStore>());
  }
  if (backend.kind == "kube") {
    if (backend.cluster == nullptr) {
      auto cluster = e2e::LocalCluster::Start("fleet-day-" + backend.design);
      if (!cluster.ok()) {
        return std::move(cluster).error();
      }
      backend.cluster = std::move(*cluster);
      auto config = kube::LoadKubeconfig(backend.cluster->kubeconfig());
      if (!config.ok()) {
        return std::move(config).error();
      }
      auto client = kube::Client::Create(*config);
      if (!client.ok()) {
        return std::move(client).error();
      }
      backend.client = std::move(*client);
      auto created = backend.cluster->Kubectl({"create", "namespace", kNamespace});
      if (!created.ok()) {
        return std::move(created).error();
      }
    }
    return std::unique_ptr<LedgerStore>(std::make_unique<KubeLedgerStore>(
        *backend.client, kNamespace, KubeLedgerStore::Options{backend.ceiling_bytes}));
  }
  if (backend.kind == "postgres") {
    if (backend.postgres == nullptr) {
      auto server = e2e::PostgresServer::Start();
      if (!server.ok()) {
        return std::move(server).error();
      }
      backend.postgres = std::move(*server);
    }
    auto store = OpenPostgresLedgerWriter({backend.postgres->conninfo(), std::chrono::seconds{5}});
    if (!store.ok()) {
      return std::move(store).error();
    }
    return std::unique_ptr<LedgerStore>(std::move(*store));
  }
  return InvalidArgument("--store must be kube, postgres or memory, not " + backend.kind);
}

// The ledger's objects and bytes as the store's backend holds them: for the Kubernetes API
// a listing of its ConfigMaps; in PostgreSQL and in memory, the store's own Usage().
std::pair<int64_t, int64_t> Held(Backend& backend) {
  if (backend.client == nullptr) {
    const StoreUsage usage = backend.store->Usage();
    return {usage.objects, usage.bytes};
  }
  // A page at a time, so the benchmark's own listing never holds the whole ledger.
  kube::ListOptions options;
  options.label_selector = "agentbudget.io/ledger";
  options.limit = 8;
  int64_t objects = 0;
  int64_t bytes = 0;
  while (true) {
    auto page = backend.client->List(kube::resources::kConfigMaps, kNamespace, options);
    if (!page.ok()) {
      std::fprintf(stderr, "cannot list the ledger: %s\n", page.error().ToString().c_str());
      return {0, 0};
    }
    for (const auto& item : page->items) {
      bytes += static_cast<int64_t>(item.dump().size());
    }
    objects += static_cast<int64_t>(page->items.size());
    if (page->continue_token.empty()) {
      return {objects, bytes};
    }
    options.continue_token = page->continue_token;
  }
}

// The API server's count of ConfigMap creates and deletes so far (0 without one).
int64_t ApiWrites(Backend& backend) {
  if (backend.cluster == nullptr) {
    return 0;
  }
  auto metrics = backend.cluster->Kubectl({"get", "--raw", "/metrics"});
  if (!metrics.ok() || metrics->exit_code != 0) {
    return 0;
  }
  std::istringstream lines(metrics->output);
  std::string line;
  int64_t writes = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("apiserver_request_total{", 0) == 0 &&
        line.find("resource=\"configmaps\"") != std::string::npos &&
        (line.find("verb=\"POST\"") != std::string::npos ||
         line.find("verb=\"DELETE\"") != std::string::npos)) {
      writes += std::atoll(line.c_str() + line.rfind(' ') + 1);
    }
  }
  return writes;
}

std::vector<core::BudgetSpec> Budgets() {
  auto budget = [](const std::string& name, nlohmann::json spec) {
    return core::ParseAgentBudget(
               nlohmann::json{{"metadata", {{"name", name}}}, {"spec", std::move(spec)}})
        .value();
  };
  std::vector<core::BudgetSpec> budgets;
  budgets.push_back(budget("org", {{"limit", {{"amount", "100000000"}}}}));
  budgets.push_back(budget("per-engineer", {{"limit", {{"amount", "1000000"}}},
                                            {"perKey", "user"},
                                            {"period", "Day"}}));
  for (int64_t team = 0; budgets.size() < kBudgets; ++team) {
    budgets.push_back(budget(
        "team-" + std::to_string(team),
        {{"limit", {{"amount", "10000000"}}},
         {"selector", {{"matchLabels", {{"team", "team-" + std::to_string(team)}}}}}}));
  }
  return budgets;
}

Caller RunCaller(int64_t run) {
  const int64_t engineer = run % kEngineers;
  const std::string team = "team-" + std::to_string(engineer % kTeams);
  Caller caller;
  caller.namespace_name = "agents";
  caller.pod = "run-" + std::to_string(run) + "-pod";
  caller.run = "run-" + std::to_string(run);
  caller.workload = "workflow-" + std::to_string(engineer % 5);
  caller.attribution = {{"team", team},
                        {"user", "eng-" + std::to_string(engineer)},
                        {"workflow", caller.workload},
                        {"workload", caller.workload}};
  caller.namespace_labels = {{"agentbudget.io/team", team}};
  return caller;
}

// A fresh ledger on `store` with the day's budgets.
std::unique_ptr<Ledger> NewLedger(const Clock& clock, LedgerStore& store,
                                  const core::RateCard& rates, Ledger::Options options) {
  auto ledger = std::make_unique<Ledger>(clock, store, rates, options,
                                         GroupCommitter::Options{std::chrono::milliseconds{1}, 1000});
  for (core::BudgetSpec& spec : Budgets()) {
    ledger->UpsertBudget(std::move(spec));
  }
  return ledger;
}

double Seconds(Wall::duration elapsed) {
  return std::chrono::duration<double>(elapsed).count();
}

int Main(int argc, char** argv) {
  const double scale = std::atof(Flag(argc, argv, "scale", "1").c_str());
  const bool unfolded = Flag(argc, argv, "design", "folding") == "unfolded";
  const int64_t stop_bytes = std::atoll(Flag(argc, argv, "stop-bytes", "1073741824").c_str());
  const double stop_rss_mib = std::atof(Flag(argc, argv, "stop-rss-mib", "2048").c_str());
  const int64_t runs = std::max<int64_t>(10, static_cast<int64_t>(10'000 * scale));
  const int64_t pairs_per_run = 200;
  const int64_t pair_every = kRunLength.count() / pairs_per_run;  // 18 s
  const int64_t group_commit_every =
      std::max<int64_t>(1, std::atoll(Flag(argc, argv, "group-commit-seconds", "10").c_str()));

  Backend backend;
  backend.kind = Flag(argc, argv, "store", "kube");
  backend.design = unfolded ? "unfolded" : "folding";
  backend.ceiling_bytes = unfolded ? std::numeric_limits<int64_t>::max() : int64_t{100} << 20;
  auto opened = OpenStore(backend);
  if (!opened.ok()) {
    std::fprintf(stderr, "fleet_day_bench: %s\n", opened.error().ToString().c_str());
    return 1;
  }
  backend.store = std::move(*opened);
  auto rates = meter::LoadRateCard("");
  if (!rates.ok()) {
    std::fprintf(stderr, "fleet_day_bench: %s\n", rates.error().ToString().c_str());
    return 1;
  }
  Ledger::Options ledger_options;
  if (unfolded) {
    ledger_options.idempotency_ttl = hours{24};
  }
  SimulatedClock clock;
  auto ledger = NewLedger(clock, *backend.store, *rates, ledger_options);
  std::vector<Caller> callers;
  callers.reserve(static_cast<size_t>(runs));
  for (int64_t run = 0; run < runs; ++run) {
    callers.push_back(RunCaller(run));
  }

  std::printf("fleet day: store=%s design=%s runs=%lld pairs=%lld engineers=%lld teams=%lld "
              "budgets=%lld\n",
              backend.kind.c_str(), unfolded ? "unfolded" : "folding",
              static_cast<long long>(runs), static_cast<long long>(runs * pairs_per_run),
              static_cast<long long>(kEngineers), static_cast<long long>(kTeams),
              static_cast<long long>(kBudgets));
  std::fflush(stdout);

  const int64_t writes_before = ApiWrites(backend);
  std::atomic<int64_t> acknowledged{0};
  std::atomic<int64_t> acknowledged_micros{0};
  std::atomic<int64_t> refused{0};
  int64_t issued = 0;
  int64_t peak_bytes = 0;
  int64_t peak_objects = 0;
  seconds next_fold{0};
  std::string stopped;
  const auto began = Wall::now();
  seconds now{0};
  for (; now < kDay + kRunLength && stopped.empty(); now += seconds{1}) {
    // Runs start evenly over the day; run r is active for kRunLength from its start.
    const int64_t first = std::max<int64_t>(0, (now - kRunLength).count() * runs / kDay.count() + 1);
    const int64_t last = std::min<int64_t>(runs - 1, now.count() * runs / kDay.count());
    for (int64_t run = first; run <= last; ++run) {
      const int64_t started = (run * kDay.count() + runs - 1) / runs;
      const int64_t age = now.count() - started;
      if (age < 0 || age >= kRunLength.count() || age % pair_every != 0) {
        continue;
      }
      const Caller& caller = callers[static_cast<size_t>(run)];
      const std::string key = std::to_string(age / pair_every);
      const int64_t cost = 1'000 + (run * 7919 + age) % 50'000;
      ReserveRequest reserve;
      reserve.idempotency_key = "r" + key;
      reserve.provider = "anthropic";
      reserve.model = "claude-sonnet-4-5";
      reserve.estimate_micros = 60'000;
      reserve.estimate_tokens = 4'000;
      auto reserved = ledger->Reserve(caller, reserve);
      if (!reserved.ok()) {
        std::fprintf(stderr, "reserve failed: %s\n", reserved.error().ToString().c_str());
        return 1;
      }
      CommitRequest commit;
      commit.idempotency_key = "c" + key;
      commit.model = "claude-sonnet-4-5";
      commit.cost_micros = cost;
      commit.token_types = {500, 1'000, 100, 0, 300};
      commit.input_tokens = 1'600;
      commit.output_tokens = 300;
      commit.tokens = 1'900;
      ++issued;
      ledger->Commit(caller, (*reserved)["id"].get<std::string>(), commit,
                     [&, cost](Result<nlohmann::json> answer) {
                       if (answer.ok()) {
                         acknowledged_micros += cost;
                       } else {
                         ++refused;
                       }
                       ++acknowledged;
                     });
    }
    // Every commit is durable (or refused) before the clock passes a group commit.
    if ((now.count() + 1) % group_commit_every == 0) {
      while (acknowledged.load() < issued) {
        std::this_thread::sleep_for(std::chrono::microseconds{200});
      }
    }
    clock.Advance(seconds{1});
    if (now.count() % 10 == 0) {
      ledger->Sweep();
    }
    if (now >= next_fold) {
      const core::SysSeconds at = std::chrono::floor<seconds>(clock.Now());
      CompactOptions fold = op::FoldOptions(at, *ledger);
      if (unfolded) {
        fold = {at - hours{25}, at - hours{25}};
      }
      if (auto compacted = backend.store->Compact(fold); !compacted.ok()) {
        std::fprintf(stderr, "compaction failed: %s\n", compacted.error().ToString().c_str());
      }
      const StoreUsage after = backend.store->Usage();
      peak_bytes = std::max(peak_bytes, after.bytes);
      peak_objects = std::max(peak_objects, after.objects);
      const bool near = static_cast<double>(after.bytes) >=
                        op::LedgerCeiling::kNearRatio * static_cast<double>(after.ceiling_bytes);
      next_fold = now + (unfolded ? seconds{hours{1}}
                                  : seconds{near ? op::kFoldIntervalNearCeiling : op::kFoldInterval});
    }
    if (now.count() % 900 == 0) {
      const auto [objects, bytes] = Held(backend);
      peak_bytes = std::max(peak_bytes, bytes);
      peak_objects = std::max(peak_objects, objects);
      const double rss = MemoryMib("VmRSS");
      std::printf("  %5.2f h: %lld pairs, ledger %lld objects %.1f MiB, rss %.0f MiB, %.0f s\n",
                  static_cast<double>(now.count()) / 3600.0, static_cast<long long>(issued),
                  static_cast<long long>(objects), static_cast<double>(bytes) / (1 << 20), rss,
                  Seconds(Wall::now() - began));
      std::fflush(stdout);
      if (bytes > stop_bytes || rss > stop_rss_mib) {
        stopped = bytes > stop_bytes ? "the ledger passed --stop-bytes in etcd"
                                     : "the process passed --stop-rss-mib";
      }
    }
  }
  const double day_seconds = Seconds(Wall::now() - began);
  const int64_t writes = ApiWrites(backend) - writes_before;
  const auto [final_objects, final_bytes] = Held(backend);
  peak_bytes = std::max(peak_bytes, final_bytes);
  peak_objects = std::max(peak_objects, final_objects);
  const double peak_rss = MemoryMib("VmHWM");
  const int64_t org_spent = ledger->Budget("org")->spent;

  // Restart to serving: a new ledger reads the store back (as the operator's leader setup).
  ledger.reset();
  const auto restart_began = Wall::now();
  if (backend.kind != "memory") {
    auto reopened = OpenStore(backend);
    if (!reopened.ok()) {
      std::fprintf(stderr, "fleet_day_bench: %s\n", reopened.error().ToString().c_str());
      return 1;
    }
    backend.store = std::move(*reopened);
  }
  auto entries = backend.store->Load();
  if (!entries.ok()) {
    std::fprintf(stderr, "fleet_day_bench: %s\n", entries.error().ToString().c_str());
    return 1;
  }
  ledger = NewLedger(clock, *backend.store, *rates, ledger_options);
  ledger->Recover(*entries);
  const double restart_seconds = Seconds(Wall::now() - restart_began);
  const int64_t recovered_org = ledger->Budget("org")->spent;

  const auto export_began = Wall::now();
  auto exported = backend.store->Load();
  const std::string csv =
      FocusExport(exported.ok() ? *exported : std::vector<LedgerEntry>{},
                  core::SysSeconds{std::chrono::floor<seconds>(kStart)},
                  core::SysSeconds{std::chrono::floor<seconds>(kStart + kDay + kRunLength + hours{1})},
                  *rates, core::FocusAccount{});
  const double export_seconds = Seconds(Wall::now() - export_began);
  int64_t ledger_micros = 0;
  FirstCopies first_copies;
  for (const LedgerEntry& entry : *entries) {
    if (first_copies.Counts(entry)) {
      ledger_micros += entry.cost_micros;
    }
  }
  const int64_t rows = std::count(csv.begin(), csv.end(), '\n') - 1;

  if (!stopped.empty()) {
    std::printf("STOPPED at %.2f simulated hours after %lld pairs: %s\n",
                static_cast<double>(now.count()) / 3600.0, static_cast<long long>(issued),
                stopped.c_str());
  }
  std::printf("pairs acknowledged:            %lld (refused %lld) in %.0f s\n",
              static_cast<long long>(acknowledged.load() - refused.load()),
              static_cast<long long>(refused.load()), day_seconds);
  std::printf("operator peak RSS:             %.0f MiB\n", peak_rss);
  std::printf("ledger in store, peak:         %.1f MiB, %lld objects\n",
              static_cast<double>(peak_bytes) / (1 << 20), static_cast<long long>(peak_objects));
  std::printf("ledger in store, final:        %.1f MiB, %lld objects\n",
              static_cast<double>(final_bytes) / (1 << 20), static_cast<long long>(final_objects));
  std::printf("API writes (ConfigMaps):       %lld, %.2f per simulated second, %.1f per real second\n",
              static_cast<long long>(writes),
              static_cast<double>(writes) / static_cast<double>(now.count()),
              static_cast<double>(writes) / day_seconds);
  std::printf("restart to serving:            %.2f s (%zu entries read)\n", restart_seconds,
              entries->size());
  std::printf("FOCUS export of the day:       %.2f s, %lld rows\n", export_seconds,
              static_cast<long long>(rows));
  const bool exact = ledger_micros == acknowledged_micros.load() &&
                     org_spent == acknowledged_micros.load() &&
                     recovered_org == acknowledged_micros.load();
  std::printf("spend to the micro-dollar:     acknowledged %lld, ledger %lld, org budget %lld, "
              "after restart %lld: %s\n",
              static_cast<long long>(acknowledged_micros.load()),
              static_cast<long long>(ledger_micros), static_cast<long long>(org_spent),
              static_cast<long long>(recovered_org), exact ? "equal" : "DIFFERENT");
  return exact ? 0 : 1;
}

}  // namespace
}  // namespace agentbudget::authority

int main(int argc, char** argv) {
  // As the operator's main does, so the RSS printed is the operator's.
  mallopt(M_ARENA_MAX, 2);
  return agentbudget::authority::Main(argc, argv);
}
