// Benchmark of the budget authority: 64 concurrent clients each run reserve+commit pairs
// through the authority's request handling (JSON decode, ledger decision, group commit,
// JSON answer; no network, no TLS) against 1,000 budgets, one of them perKey over 10,000
// users. Prints pairs per second, reserve and commit-acknowledgement latency percentiles,
// and the process's RSS.
//
//   authority_bench [--clients=64] [--seconds=10] [--group-commit-ms=200]
//                   [--append-latency-ms=10] [--async-commits=1]
//                   [--store=memory|postgres] [--runs=1] [--rate=0]
//
// --rate paces the clients to that many pairs per second together (0: as fast as they go,
// saturation), to see the latency and memory at a sustained, unsaturated rate; a paced
// reservation's latency counts from its scheduled start, so a client that fell behind
// counts its lag too (the time from sending it, the authority's own, is printed beside). The last line gives the medians over --runs of pairs per second and
// of reserve p50/p99. Each client stands for one request handled at a time: behind the
// operator's listener, one of its few event-loop threads (--workers), so --clients=4 at a
// paced rate calls the ledger as the listener does, where 64 threads on 2 cores also
// measure their own scheduling.
// --store=postgres appends to a real PostgreSQL server the benchmark starts for itself
// (e2e/support/postgres_server.h: Debian's `postgresql`, fsync on), through
// PostgresLedgerStore. Each of --runs rounds then measures PostgreSQL first and the
// in-memory store with --append-latency-ms second (the baseline), each on a fresh ledger
// (so the first round's RSS figures are PostgreSQL's alone);
// the medians of both and their ratio close the output ("durable pairs/s": acknowledged
// pairs over the time until the last commit was acknowledged, which is what the store
// sustains; commits refused because the store was too far behind are counted apart). Each
// round prints its RSS after warm-up, its peak from then on and a sample every 10 s, with
// the commits waiting for the store at each sample; the last line's peak RSS is the
// process's high water mark over every round. The ledger is swept every 200 ms, as the
// operator does. Latencies are counted in fixed-size histograms (LatencyHistogram: the
// percentiles are within 0.25 % of the exact ones), so the benchmark's own record does not
// grow the RSS it reports.
//
// --append-latency-ms makes every ledger append take that long, standing in for a write
// to the Kubernetes API. With --async-commits=1 (the default) a client hands its commit over
// and makes its next reservation at once, as a meter does (it spools commits and resends
// them until acknowledged), so pairs per second measure the authority's capacity; with 0
// each client waits for the acknowledgement, so pairs per second are bounded by
// clients / acknowledgement latency.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/authority/latency_histogram.h"
#include "core/budget_spec.h"
#include "meter/rate_card_loader.h"
#include "operator/authority/api.h"
#include "e2e/support/postgres_server.h"
#include "operator/authority/ledger.h"
#include "operator/authority/postgres_ledger_store.h"

namespace agentbudget::authority {
namespace {

using Clock = std::chrono::steady_clock;

// Counts what is appended to `durable`, or, without one, makes every append take a fixed
// time, like a round trip to the API server and etcd.
class BenchStore final : public LedgerStore {
 public:
  BenchStore(LedgerStore* durable, std::chrono::milliseconds latency)
      : durable_(durable), latency_(latency) {}
  Status Append(const std::vector<LedgerEntry>& batch) override {
    if (durable_ != nullptr) {
      if (Status appended = durable_->Append(batch); !appended.ok()) {
        std::fprintf(stderr, "append failed: %s\n", appended.error().ToString().c_str());
        return appended;
      }
    } else {
      std::this_thread::sleep_for(latency_);
    }
    appended_ += batch.size();
    ++appends_;
    return OkStatus();
  }
  Result<std::vector<LedgerEntry>> Load() override { return std::vector<LedgerEntry>{}; }
  Result<size_t> Compact(const CompactOptions&) override { return size_t{0}; }
  StoreUsage Usage() const override { return {}; }
  // PostgreSQL's: the ledger then keeps only the recent window of answers in memory.
  AnswerIndex* answer_index() override {
    return durable_ != nullptr ? durable_->answer_index() : nullptr;
  }
  std::atomic<size_t> appended_{0};
  std::atomic<size_t> appends_{0};

 private:
  LedgerStore* durable_;
  std::chrono::milliseconds latency_;
};

// Every caller's token is "token-<user index>".
class BenchAuthenticator final : public Authenticator {
 public:
  Result<Caller> Authenticate(const std::string& token) override {
    const int user = std::atoi(token.c_str() + 6);
    Caller caller;
    caller.namespace_name = "team-" + std::to_string(user % 100);
    caller.pod = "pod-" + std::to_string(user);
    caller.run = "run-" + std::to_string(user);
    caller.workload = "bench";
    caller.attribution = {{"team", "team-" + std::to_string(user % 100)},
                          {"user", "user-" + std::to_string(user)},
                          {"workload", "bench"}};
    caller.fallback_models = {"claude-haiku-4-5"};
    return caller;
  }
};

int64_t Flag(int argc, char** argv, const std::string& name, int64_t fallback) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]).rfind(prefix, 0) == 0) {
      return std::atoll(argv[i] + prefix.size());
    }
  }
  return fallback;
}

std::string StringFlag(int argc, char** argv, const std::string& name, std::string fallback) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]).rfind(prefix, 0) == 0) {
      return argv[i] + prefix.size();
    }
  }
  return fallback;
}

// A field of /proc/self/status in KiB ("VmRSS:", "VmHWM:").
long StatusKib(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) {
      return std::atol(line.c_str() + field.size());
    }
  }
  return -1;
}

long RssKib() { return StatusKib("VmRSS:"); }

// The process's peak RSS before the last ResetPeakRss().
long earlier_peak_kib = 0;

// Makes VmHWM the current RSS (Linux's /proc/self/clear_refs), so that it measures the peak
// of what follows.
void ResetPeakRss() {
  earlier_peak_kib = std::max(earlier_peak_kib, StatusKib("VmHWM:"));
  std::ofstream("/proc/self/clear_refs") << "5";
}

// The process's peak RSS since it started, in MiB.
double ProcessPeakMib() {
  return static_cast<double>(std::max(earlier_peak_kib, StatusKib("VmHWM:"))) / 1024.0;
}

http::Request Post(const std::string& token, std::string path, const nlohmann::json& body) {
  http::Request request;
  request.method = "POST";
  request.path = std::move(path);
  request.headers["Authorization"] = "Bearer " + token;
  request.body = body.dump();
  return request;
}

double MsSince(Clock::time_point from, Clock::time_point to = Clock::now()) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// Commit acknowledgements, recorded by callbacks that may run after the client that sent
// the commit moved on: they share ownership of this.
struct Acks {
  LatencyHistogram ms;
  std::atomic<int64_t> errors{0};
  // 503: the store was Ledger::Options::max_pending_commits behind (a meter resends these;
  // the benchmark does not, and counts them out of the durable pairs).
  std::atomic<int64_t> refused{0};
  std::atomic<int64_t> outstanding{0};

  void Record(const http::Response& response, Clock::time_point sent) {
    if (response.status == 200) {
      ms.Record(MsSince(sent));
    } else if (response.status == 503) {
      ++refused;
    } else {
      ++errors;
    }
    --outstanding;
  }
};

// The figures of one measurement that the medians are taken of.
struct Figures {
  double pairs_per_second = -1;  // durable pairs per second; -1 when a request failed
  double reserve_p50_ms = 0;  // paced: from the scheduled start
  double reserve_p99_ms = 0;
  double service_p50_ms = 0;  // from the request's sending: the authority's own time
  double service_p99_ms = 0;
};

// One measurement on a fresh ledger whose appends go to `durable` (nullptr: the in-memory
// stand-in with `latency`). Prints its figures and returns them.
Figures Measure(int argc, char** argv, LedgerStore* durable) {
  const int clients = static_cast<int>(Flag(argc, argv, "clients", 64));
  const int seconds = static_cast<int>(Flag(argc, argv, "seconds", 10));
  const auto interval = std::chrono::milliseconds{Flag(argc, argv, "group-commit-ms", 200)};
  const auto latency = std::chrono::milliseconds{Flag(argc, argv, "append-latency-ms", 10)};
  const bool async_commits = Flag(argc, argv, "async-commits", 1) != 0;
  // 0: as fast as the clients go; else each client paces itself to its share of the rate.
  const int64_t rate = Flag(argc, argv, "rate", 0);
  constexpr int kUsers = 10000;

  BenchStore store(durable, latency);
  const core::RateCard rates = meter::LoadRateCard("").value();
  Ledger ledger(SystemClock::Instance(), store, rates, Ledger::Options{},
                GroupCommitter::Options{interval, 1000});
  // 1 org budget, 1 perKey budget over users, 100 team budgets, 898 workflow budgets that
  // match nothing here (they still have to be checked on every reservation).
  auto add = [&](const std::string& name, nlohmann::json spec) {
    ledger.UpsertBudget(core::ParseAgentBudget({{"metadata", {{"name", name}}}, {"spec", spec}}).value());
  };
  add("org", {{"limit", {{"amount", "100000000"}}}});
  add("per-user", {{"limit", {{"amount", "100000"}}}, {"perKey", "user"}});
  for (int team = 0; team < 100; ++team) {
    add("team-" + std::to_string(team),
        {{"limit", {{"amount", "1000000"}}},
         {"selector", {{"matchLabels", {{"team", "team-" + std::to_string(team)}}}}}});
  }
  for (int workflow = 0; workflow < 898; ++workflow) {
    add("workflow-" + std::to_string(workflow),
        {{"limit", {{"amount", "1000"}}},
         {"selector", {{"matchLabels", {{"workflow", "wf-" + std::to_string(workflow)}}}}}});
  }
  BenchAuthenticator authenticator;
  AuthorityApi api(ledger, authenticator, [] { return OkStatus(); },
                   []() -> Result<ProviderKeys> { return Unavailable("no keys here"); });

  // Every user spends once first, so 10,000 perKey envelopes exist during the run.
  for (int user = 0; user < kUsers; ++user) {
    auto caller = authenticator.Authenticate("token-" + std::to_string(user));
    auto reserved = ledger.Reserve(*caller, {"warm", "anthropic", "claude-sonnet-4-5", 10'000, 1000, 1});
    ledger.Commit(*caller, (*reserved)["id"], {"warm-c", "claude-sonnet-4-5", 5'000, 900, 2, 0, {}, 0},
                  [](const Result<nlohmann::json>&) {});
  }
  while (store.appended_ < static_cast<size_t>(kUsers)) {
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }

  const double warm_rss = static_cast<double>(RssKib()) / 1024.0;
  ResetPeakRss();

  std::atomic<bool> stop{false};
  // Fixed size, so the record of the run's latencies does not grow the RSS measured.
  LatencyHistogram reserve_ms;
  LatencyHistogram service_ms;
  auto acks = std::make_shared<Acks>();
  std::atomic<int64_t> pairs{0};
  std::atomic<int64_t> errors{0};
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      int64_t n = 0;
      const auto paced_start = Clock::now();
      while (!stop) {
        Clock::time_point scheduled;
        if (rate > 0) {
          scheduled = paced_start + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(
                                            static_cast<double>(n) * clients /
                                            static_cast<double>(rate)));
          std::this_thread::sleep_until(scheduled);
        }
        const int user = (c * 997 + static_cast<int>(n) * 64) % kUsers;
        const std::string token = "token-" + std::to_string(user);
        const std::string key = std::to_string(c) + "-" + std::to_string(n++);
        const auto sent = Clock::now();
        const auto t0 = rate > 0 ? scheduled : sent;
        auto reserved = api.Handle(Post(token, "/v1/reservations",
                                        {{"idempotencyKey", key}, {"model", "claude-sonnet-4-5"},
                                         {"estimate", {{"cost", "0.0425"}, {"tokens", 12000}}}}));
        const auto t1 = Clock::now();
        if (reserved.status != 200) {
          ++errors;
          continue;
        }
        const std::string id = nlohmann::json::parse(reserved.body)["id"];
        reserve_ms.Record(MsSince(t0, t1));
        service_ms.Record(MsSince(sent, t1));
        const http::Request commit =
            Post(token, "/v1/reservations/" + id + "/commit",
                 {{"idempotencyKey", key + "c"}, {"cost", "0.0021"},
                  {"usage", {{"input", 1000}, {"output", 200}}}});
        ++acks->outstanding;
        if (async_commits) {
          // The callback owns what it uses: it runs on the commit thread after this
          // iteration's request, token and id are gone.
          api.HandleAsync(commit, [acks, t1](http::Response response) { acks->Record(response, t1); });
        } else {
          acks->Record(api.Handle(commit), t1);
        }
        ++pairs;
      }
    });
  }
  // Sweeps as the operator's housekeeping does (every 200 ms), so the ledger forgets what
  // its windows let it; samples RSS every 10 s.
  // Each sample is RSS in MiB and the commits waiting for the store.
  std::vector<std::pair<long, size_t>> samples;
  for (auto next = start; Clock::now() < start + std::chrono::seconds{seconds};) {
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
    ledger.Sweep();
    if (Clock::now() >= next) {
      samples.emplace_back(RssKib() / 1024, ledger.pending_commits());
      next += std::chrono::seconds{10};
    }
  }
  stop = true;
  for (auto& thread : threads) {
    thread.join();
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  // Every commit sent is acknowledged before the figures are read.
  while (acks->outstanding > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  // Pairs over the time until the last of them was durable: what the store sustains.
  const double durable_elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  errors += acks->errors;
  std::printf("store %s, clients %d (%s commits), group commit %lld ms, append latency %s, "
              "budgets 1000, perKey users %d\n",
              durable != nullptr ? "postgres" : "memory", clients,
              async_commits ? "async" : "waited", static_cast<long long>(interval.count()),
              durable != nullptr ? "real" : (std::to_string(latency.count()) + " ms").c_str(),
              kUsers);
  const int64_t durable_pairs = pairs - acks->refused;
  std::printf("pairs/s %.0f, durable pairs/s %.0f (pairs %lld, commits refused while the store "
              "was behind %lld, errors %lld, appends %zu)\n",
              static_cast<double>(pairs) / elapsed,
              static_cast<double>(durable_pairs) / durable_elapsed,
              static_cast<long long>(pairs.load()), static_cast<long long>(acks->refused.load()),
              static_cast<long long>(errors.load()), store.appends_.load());
  Figures figures;
  figures.reserve_p50_ms = reserve_ms.Percentile(0.50);
  figures.reserve_p99_ms = reserve_ms.Percentile(0.99);
  figures.service_p50_ms = service_ms.Percentile(0.50);
  figures.service_p99_ms = service_ms.Percentile(0.99);
  std::printf("reserve ms p50 %.3f p99 %.3f (from sending: p50 %.3f p99 %.3f)\n",
              figures.reserve_p50_ms, figures.reserve_p99_ms, figures.service_p50_ms,
              figures.service_p99_ms);
  std::printf("commit ack ms p50 %.1f p99 %.1f\n", acks->ms.Percentile(0.50),
              acks->ms.Percentile(0.99));
  // The first figure is the state of 1,000 budgets and 10,000 perKey users; the second adds
  // the run's idempotency answers and reservation tombstones (kept 24 h and 1 h).
  std::printf("rss MiB after warm-up %.1f, at end %.1f\n", warm_rss,
              static_cast<double>(RssKib()) / 1024.0);
  std::printf("rss MiB peak after warm-up %.1f; every 10 s:",
              static_cast<double>(StatusKib("VmHWM:")) / 1024.0);
  for (const auto& [rss, pending] : samples) {
    std::printf(" %ld", rss);
  }
  std::printf("\ncommits waiting for the store, every 10 s:");
  for (const auto& [rss, pending] : samples) {
    std::printf(" %zu", pending);
  }
  std::printf("\n");
  if (errors == 0) {
    figures.pairs_per_second = static_cast<double>(durable_pairs) / durable_elapsed;
  }
  return figures;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

int Main(int argc, char** argv) {
  const std::string store = StringFlag(argc, argv, "store", "memory");
  const int runs = static_cast<int>(std::max<int64_t>(1, Flag(argc, argv, "runs", 1)));
  if (store != "memory" && store != "postgres") {
    std::fprintf(stderr, "--store: \"%s\" is neither memory nor postgres\n", store.c_str());
    return 2;
  }
  std::unique_ptr<e2e::PostgresServer> server;
  if (store == "postgres") {
    auto started = e2e::PostgresServer::Start();
    if (!started.ok()) {
      std::fprintf(stderr, "cannot start PostgreSQL: %s\n", started.error().message.c_str());
      return 1;
    }
    server = std::move(*started);
  }
  std::vector<double> baseline;
  std::vector<double> measured;
  std::vector<double> reserve50;
  std::vector<double> reserve99;
  std::vector<double> service50;
  std::vector<double> service99;
  // The reserve figures are the measured store's (the first of each run).
  auto keep = [&](const Figures& figures) {
    measured.push_back(figures.pairs_per_second);
    reserve50.push_back(figures.reserve_p50_ms);
    reserve99.push_back(figures.reserve_p99_ms);
    service50.push_back(figures.service_p50_ms);
    service99.push_back(figures.service_p99_ms);
  };
  for (int run = 0; run < runs; ++run) {
    if (server == nullptr) {
      keep(Measure(argc, argv, nullptr));
      continue;
    }
    auto postgres = OpenPostgresLedgerWriter({server->conninfo(), std::chrono::seconds{5}});
    if (!postgres.ok()) {
      std::fprintf(stderr, "cannot open the PostgreSQL ledger: %s\n",
                   postgres.error().message.c_str());
      return 1;
    }
    keep(Measure(argc, argv, postgres->get()));
    baseline.push_back(Measure(argc, argv, nullptr).pairs_per_second);
  }
  if (std::find(measured.begin(), measured.end(), -1.0) != measured.end() ||
      std::find(baseline.begin(), baseline.end(), -1.0) != baseline.end()) {
    return 1;
  }
  std::printf("median durable pairs/s over %d runs: %s %.0f", runs, store.c_str(),
              Median(measured));
  if (!baseline.empty()) {
    std::printf(", memory baseline %.0f, ratio %.2f", Median(baseline),
                Median(measured) / Median(baseline));
  }
  std::printf("; median reserve ms p50 %.3f p99 %.3f (from sending: p50 %.3f p99 %.3f); peak rss "
              "MiB %.1f\n",
              Median(reserve50), Median(reserve99), Median(service50), Median(service99),
              ProcessPeakMib());
  return 0;
}

}  // namespace
}  // namespace agentbudget::authority

int main(int argc, char** argv) { return agentbudget::authority::Main(argc, argv); }
