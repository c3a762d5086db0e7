// Admission queue benchmark (docs/admission-queue.md, "Benchmark"): the agentbudget-operator
// binary against a local control plane.
//
//   queue_bench [--jobs=5000] [--workloads=50] [--idle-samples=20] [--deferred=50]
//
// Phases, each through the real API server:
//   baseline  the bench itself unsuspends 500 Jobs with one client, one patch at a time: the
//             API server's own rate for the write an admission makes;
//   queued    --jobs held Jobs across --workloads AgentWorkloads, created from 16 threads
//             while the operator runs: admissions per second (first to last admission) and
//             wait from creation to admission (p50, p99), as the bench's watch sees them;
//   idle      --idle-samples Jobs created one at a time on an idle workload: wait p50, p99;
//   pressure  --deferred running Deferrable Jobs; a $6 spend pushes their $10 budget past
//             queueAt: time from the acknowledged spend to the last suspension;
// then the operator's RSS (VmRSS, VmHWM). Jobs have parallelism 0, so no pods run and the
// figures measure admission, not pod churn on the shared machine.
#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/mutex.h"
#include "e2e/support/cluster_environment.h"
#include "e2e/operator/operator_process.h"
#include "e2e/support/local_cluster.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/informer.h"
#include "kube/transport.h"

namespace agentbudget::bench {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Options {
  int jobs = 5000;
  int workloads = 50;
  int idle_samples = 20;
  int deferred = 50;
};

// Admission and suspension times of every Job, from one cluster-wide watch.
class Timeline {
 public:
  explicit Timeline(kube::Client& client) : informer_(client, kube::resources::kJobs) {
    informer_.AddEventHandlers({[this](const json& job) { Observe(job); },
                                [this](const json&, const json& job) { Observe(job); }, nullptr});
    informer_.Start();
    informer_.WaitForSync(std::chrono::minutes{1});
  }
  ~Timeline() { informer_.Stop(); }

  std::map<std::string, Clock::time_point> admitted() const {
    MutexLock lock(mu_);
    return admitted_;
  }
  std::map<std::string, Clock::time_point> resuspended() const {
    MutexLock lock(mu_);
    return resuspended_;
  }

 private:
  void Observe(const json& job) {
    const std::string key = job["metadata"].value("namespace", "") + "/" +
                            job["metadata"].value("name", "");
    const bool suspended = job.value("spec", json::object()).value("suspend", false);
    const auto now = Clock::now();
    MutexLock lock(mu_);
    if (!suspended && !admitted_.contains(key)) {
      admitted_[key] = now;
    } else if (suspended && admitted_.contains(key) && !resuspended_.contains(key)) {
      resuspended_[key] = now;
    }
  }

  kube::Informer informer_;
  mutable Mutex mu_;
  std::map<std::string, Clock::time_point> admitted_ GUARDED_BY(mu_);
  std::map<std::string, Clock::time_point> resuspended_ GUARDED_BY(mu_);
};

json HeldJob(const std::string& name, const std::string& workload, bool governed) {
  json job = {{"apiVersion", "batch/v1"},
              {"kind", "Job"},
              {"metadata", {{"name", name}, {"labels", {{"agentbudget.io/workload", workload}}}}},
              {"spec",
               {{"suspend", true},
                {"parallelism", 0},
                {"template",
                 {{"spec",
                   {{"restartPolicy", "Never"},
                    {"containers", {{{"name", "agent"}, {"image", "agent:latest"}}}}}}}}}}};
  if (governed) {
    job["metadata"]["annotations"] = {
        {"agentbudget.io/queue", R"({"state":"Pending","reason":"AwaitingAdmission"})"}};
  }
  return job;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  const size_t index = std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  return values[index];
}

double Millis(Clock::duration duration) {
  return std::chrono::duration<double, std::milli>(duration).count();
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  return true;
}

std::string Manifests(const Options& options) {
  std::string yaml = R"(apiVersion: v1
kind: Namespace
metadata: {name: agentbudget-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: baseline}
---
apiVersion: v1
kind: Namespace
metadata: {name: bench, labels: {agentbudget.io/team: bench}}
---
apiVersion: v1
kind: Namespace
metadata: {name: pressure, labels: {agentbudget.io/team: pressure}}
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
metadata: {name: deferred, namespace: pressure}
spec:
  selector: {matchLabels: {agentbudget.io/workload: deferred}}
  class: AutonomousBounded
  priority: Deferrable
)";
  for (int i = 0; i < options.workloads; ++i) {
    yaml += "---\napiVersion: agentbudget.io/v1alpha1\nkind: AgentWorkload\nmetadata: {name: w-" +
            std::to_string(i) +
            ", namespace: bench}\nspec:\n  selector: {matchLabels: {agentbudget.io/workload: w-" +
            std::to_string(i) +
            "}}\n  class: AutonomousBounded\n  priority: Standard\n  maxParallelRuns: 1000\n";
  }
  return yaml;
}

int CreateAll(kube::Client& client, const std::string& ns, const std::vector<json>& jobs,
              std::map<std::string, Clock::time_point>* created) {
  std::atomic<size_t> next{0};
  std::atomic<int> failures{0};
  Mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < jobs.size(); i = next++) {
        const auto start = Clock::now();
        if (!client.Create(kube::resources::kJobs, ns, jobs[i]).ok()) {
          ++failures;
          continue;
        }
        MutexLock lock(mu);
        (*created)[ns + "/" + jobs[i]["metadata"]["name"].get<std::string>()] = start;
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  return failures;
}

std::string ProcStatus(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind(field + ":", 0) == 0) {
      return line.substr(field.size() + 1);
    }
  }
  return "?";
}

int Bench(const Options& options) {
  auto cluster = e2e::LocalCluster::Start("queue-bench");
  if (!cluster.ok()) {
    std::cerr << "cannot start the local control plane: " << cluster.error().message << "\n";
    return 1;
  }
  if (Status crds = e2e::InstallCrds(**cluster); !crds.ok()) {
    std::cerr << crds.error().message << "\n";
    return 1;
  }
  auto applied = (*cluster)->Kubectl({"apply", "-f", "-"}, Manifests(options));
  if (!applied.ok() || applied->exit_code != 0) {
    std::cerr << "kubectl apply failed: " << (applied.ok() ? applied->output : "") << "\n";
    return 1;
  }
  auto config = kube::LoadKubeconfig((*cluster)->kubeconfig());
  kube::ClientOptions client_options;
  client_options.qps = 2000;
  client_options.burst = 4000;
  auto client = kube::Client::Create(*config, client_options);
  if (!client.ok()) {
    std::cerr << client.error().message << "\n";
    return 1;
  }
  Timeline timeline(**client);

  // Baseline: the API server's rate for one unsuspending patch at a time.
  std::vector<json> baseline_jobs;
  std::map<std::string, Clock::time_point> ignored;
  for (int i = 0; i < 500; ++i) {
    baseline_jobs.push_back(HeldJob("b-" + std::to_string(i), "none", false));
  }
  CreateAll(**client, "baseline", baseline_jobs, &ignored);
  const auto baseline_start = Clock::now();
  int baseline_failures = 0;
  for (const json& job : baseline_jobs) {
    const std::string name = job["metadata"]["name"].get<std::string>();
    if (!(*client)->Patch(kube::resources::kJobs, "baseline", name, kube::PatchType::kMerge,
                          {{"spec", {{"suspend", false}}}})
             .ok()) {
      ++baseline_failures;
    }
  }
  const double baseline_rate = 500.0 / std::chrono::duration<double>(Clock::now() - baseline_start).count();

  const int port = e2e::FreePort();
  e2e::OperatorProcess operator_process(
      AGENTBUDGET_OPERATOR_BINARY,
      {"--kubeconfig=" + (*cluster)->kubeconfig(), "--namespace=agentbudget-system",
       "--listen=127.0.0.1:" + std::to_string(port), "--ops-listen=127.0.0.1:0",
       "--status-ms=200", "--group-commit-ms=50", "--queue-qps=1000", "--leader-elect=false",
       // The benchmark talks to the authority on loopback, in plain HTTP.
       "--authority-plaintext"},
      "/tmp/queue-bench-operator.log");
  if (Status started = operator_process.Start(); !started.ok()) {
    std::cerr << "operator: " << started.error().message << "\n";
    return 1;
  }
  const pid_t pid = operator_process.pid();

  // Idle: one Job at a time on an idle workload (the operator has synced once the first
  // is admitted, so the first sample is dropped).
  std::vector<double> idle_waits;
  for (int i = 0; i <= options.idle_samples; ++i) {
    std::map<std::string, Clock::time_point> created;
    CreateAll(**client, "bench", {HeldJob("idle-" + std::to_string(i), "w-0", true)}, &created);
    const std::string key = "bench/idle-" + std::to_string(i);
    if (!WaitUntil([&] { return timeline.admitted().contains(key); }, std::chrono::seconds{300})) {
      std::cerr << "idle Job " << key << " was not admitted\n";
      operator_process.Kill();
      return 1;
    }
    if (i > 0) {
      idle_waits.push_back(Millis(timeline.admitted()[key] - created[key]));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
  }

  // Queued: the burst.
  std::vector<json> jobs;
  for (int i = 0; i < options.jobs; ++i) {
    jobs.push_back(HeldJob("q-" + std::to_string(i), "w-" + std::to_string(i % options.workloads), true));
  }
  std::map<std::string, Clock::time_point> created;
  const int failures = CreateAll(**client, "bench", jobs, &created);
  auto all_admitted = [&] {
    const auto admitted = timeline.admitted();
    return std::all_of(created.begin(), created.end(),
                       [&](const auto& entry) { return admitted.contains(entry.first); });
  };
  const bool complete = WaitUntil(all_admitted, std::chrono::seconds{1200});
  const auto admitted = timeline.admitted();
  std::vector<double> waits;
  Clock::time_point first = Clock::time_point::max();
  Clock::time_point last = Clock::time_point::min();
  for (const auto& [key, at] : created) {
    if (const auto found = admitted.find(key); found != admitted.end()) {
      waits.push_back(Millis(found->second - at));
      first = std::min(first, found->second);
      last = std::max(last, found->second);
    }
  }
  const double rate = waits.size() / std::max(1e-9, std::chrono::duration<double>(last - first).count());

  // Pressure: Deferrable Jobs running, then their budget passes queueAt.
  std::vector<json> deferred;
  for (int i = 0; i < options.deferred; ++i) {
    deferred.push_back(HeldJob("d-" + std::to_string(i), "deferred", true));
  }
  std::map<std::string, Clock::time_point> deferred_created;
  CreateAll(**client, "pressure", deferred, &deferred_created);
  WaitUntil([&] {
    const auto now_admitted = timeline.admitted();
    return std::all_of(deferred_created.begin(), deferred_created.end(),
                       [&](const auto& entry) { return now_admitted.contains(entry.first); });
  }, std::chrono::seconds{300});
  auto uid = (*cluster)->Kubectl({"get", "pod", "spender", "-n", "pressure", "-o", "jsonpath={.metadata.uid}"});
  auto token = (*cluster)->Kubectl({"create", "token", "agent", "-n", "pressure", "--audience=agentbudget",
                                    "--bound-object-kind=Pod", "--bound-object-name=spender",
                                    "--bound-object-uid=" + uid->output, "--duration=1h"});
  std::string bearer = token->output;
  bearer.erase(bearer.find_last_not_of("\n\r ") + 1);
  kube::TransportConfig transport_config;
  transport_config.server = "http://127.0.0.1:" + std::to_string(port);
  auto transport = kube::NewCpprestTransport(transport_config);
  kube::HttpRequest spend;
  spend.method = "POST";
  spend.path = "/v1/events";
  spend.headers["authorization"] = "Bearer " + bearer;
  spend.headers["content-type"] = "application/json";
  spend.body = json({{"idempotencyKey", "bench-pressure"}, {"kind", "tool"}, {"cost", "6"}}).dump();
  spend.timeout = std::chrono::milliseconds{15000};
  WaitUntil([&] {
    auto sent = (*transport)->Send(spend);
    return sent.ok() && sent->status == 200;
  }, std::chrono::seconds{60});
  const auto pressed = Clock::now();
  WaitUntil([&] { return timeline.resuspended().size() >= deferred_created.size(); },
            std::chrono::seconds{300});
  Clock::time_point last_suspension = pressed;
  for (const auto& [key, at] : timeline.resuspended()) {
    last_suspension = std::max(last_suspension, at);
  }
  const std::string rss = ProcStatus(pid, "VmRSS");
  const std::string hwm = ProcStatus(pid, "VmHWM");
  operator_process.Terminate();

  std::printf("baseline: one client unsuspending 500 Jobs one at a time: %.1f patches/s "
              "(%d failed)\n",
              baseline_rate, baseline_failures);
  std::printf("queued: %d Jobs across %d workloads (%d create failures, %s): %zu admitted\n",
              options.jobs, options.workloads, failures, complete ? "all admitted" : "TIMED OUT",
              waits.size());
  std::printf("  admissions/s %.1f (%.2f x baseline)  wait p50 %.0f ms  p99 %.0f ms\n", rate,
              rate / baseline_rate, Percentile(waits, 0.5), Percentile(waits, 0.99));
  std::printf("idle workload: %d Jobs one at a time: wait p50 %.0f ms  p99 %.0f ms  max %.0f ms\n",
              options.idle_samples, Percentile(idle_waits, 0.5), Percentile(idle_waits, 0.99),
              Percentile(idle_waits, 1.0));
  std::printf("pressure: %zu of %d running Deferrable Jobs suspended; last %.0f ms after the spend\n",
              timeline.resuspended().size(), options.deferred, Millis(last_suspension - pressed));
  std::printf("operator memory: VmRSS%s  VmHWM%s\n", rss.c_str(), hwm.c_str());
  return complete ? 0 : 1;
}

}  // namespace
}  // namespace agentbudget::bench

int main(int argc, char** argv) {
  agentbudget::bench::Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t equals = arg.find('=');
    const std::string name = arg.substr(0, equals);
    const int value = equals == std::string::npos ? 0 : std::atoi(arg.c_str() + equals + 1);
    if (value <= 0) {
      std::cerr << "usage: queue_bench [--jobs=N] [--workloads=N] [--idle-samples=N] [--deferred=N]\n";
      return 2;
    }
    if (name == "--jobs") {
      options.jobs = value;
    } else if (name == "--workloads") {
      options.workloads = value;
    } else if (name == "--idle-samples") {
      options.idle_samples = value;
    } else if (name == "--deferred") {
      options.deferred = value;
    } else {
      std::cerr << "unknown flag " << name << "\n";
      return 2;
    }
  }
  return agentbudget::bench::Bench(options);
}
