// Pod admission end to end: pods created through the API server of a local control plane
// with one agentbudget-webhook registered (mutating + validating), against the same
// creations with the webhook configurations removed, and the webhook's own latency
// histogram — so the webhook's share of a pod creation is measured, not guessed.
//
//   webhook_e2e_bench [--pods N] [--concurrency N]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "e2e/support/cluster_environment.h"
#include "e2e/support/local_cluster.h"
#include "e2e/webhook/webhook_process.h"
#include "kube/client.h"
#include "kube/config.h"
#include "tests/common/test_tls.h"
#include "webhook/admission_review.h"

namespace {

using namespace agentbudget;
using SteadyClock = std::chrono::steady_clock;

struct Figures {
  double p50 = 0, p99 = 0, per_second = 0;
  int failures = 0;
};

// Creates `pods` pods from `concurrency` threads; latency per create.
Figures CreatePods(kube::Client& client, const std::string& ns, int pods, int concurrency) {
  std::vector<std::vector<double>> latencies(static_cast<size_t>(concurrency));
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  const auto start = SteadyClock::now();
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&, t] {
      for (int i = next++; i < pods; i = next++) {
        nlohmann::json pod = {
            {"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata",
             {{"generateName", "bench-"}, {"labels", {{"agentbudget.io/workload", "bench"}}}}},
            {"spec", {{"containers", {{{"name", "agent"}, {"image", "agent:1"}}}}}}};
        const auto sent = SteadyClock::now();
        if (!client.Create(kube::resources::kPods, ns, pod).ok()) {
          ++failures;
          continue;
        }
        latencies[static_cast<size_t>(t)].push_back(
            std::chrono::duration<double, std::milli>(SteadyClock::now() - sent).count());
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  std::vector<double> all;
  for (auto& v : latencies) {
    all.insert(all.end(), v.begin(), v.end());
  }
  std::sort(all.begin(), all.end());
  Figures f;
  f.failures = failures;
  if (!all.empty()) {
    f.p50 = all[all.size() / 2];
    f.p99 = all[std::min(all.size() - 1, all.size() * 99 / 100)];
    f.per_second = all.size() / elapsed;
  }
  return f;
}

// Sum and count of the webhook's admission histogram for one operation.
std::pair<double, double> HistogramTotals(const std::string& metrics, const std::string& op) {
  double sum = 0, count = 0;
  std::istringstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("operation=\"" + op + "\"") == std::string::npos) {
      continue;
    }
    const double value = std::atof(line.substr(line.rfind(' ') + 1).c_str());
    if (line.rfind("agentbudget_webhook_admission_duration_seconds_sum", 0) == 0) {
      sum += value;
    } else if (line.rfind("agentbudget_webhook_admission_duration_seconds_count", 0) == 0) {
      count += value;
    }
  }
  return {sum, count};
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "webhook_e2e_bench: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int pods = 300;
  int concurrency = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--pods") {
      pods = std::atoi(argv[i + 1]);
    } else if (std::string(argv[i]) == "--concurrency") {
      concurrency = std::atoi(argv[i + 1]);
    }
  }
  auto cluster = e2e::LocalCluster::Start("webhook-bench");
  if (!cluster.ok()) {
    return Fail(cluster.error().ToString());
  }
  if (Status s = e2e::InstallCrds(**cluster); !s.ok()) {
    return Fail(s.error().ToString());
  }
  agentbudget::testing::TempDir dir;
  auto certs = agentbudget::testing::WriteSelfSignedCertificate(dir.path(), "webhook", "webhook-bench");
  if (!certs.ok()) {
    return Fail("certificate");
  }
  e2e::WebhookProcess webhook(AGENTBUDGET_WEBHOOK_BINARY, (*cluster)->kubeconfig(),
                              certs->cert_file, certs->key_file, dir.path() + "/webhook.log");
  if (Status s = webhook.Start(std::chrono::seconds(60)); !s.ok()) {
    return Fail(s.error().ToString());
  }
  const std::string objects = R"(apiVersion: v1
kind: Namespace
metadata:
  name: governed
  labels: {agentbudget.io/inject: enabled, agentbudget.io/team: bench}
---
apiVersion: v1
kind: Namespace
metadata:
  name: plain
---
apiVersion: agentbudget.io/v1alpha1
kind: AgentWorkload
metadata: {name: bench, namespace: governed}
spec:
  selector: {matchLabels: {agentbudget.io/workload: bench}}
  class: AutonomousBounded
  attribution: {workflow: bench, repo: acme/bench}
)";
  std::ifstream in(e2e::SourcePath("deploy/webhook/webhooks-local.yaml"));
  std::stringstream text;
  text << in.rdbuf();
  std::string config = text.str();
  auto replace = [&config](const std::string& from, const std::string& to) {
    for (size_t at = config.find(from); at != std::string::npos; at = config.find(from, at)) {
      config.replace(at, from.size(), to);
    }
  };
  const std::string base = "https://127.0.0.1:" + std::to_string(webhook.port());
  replace("@MUTATE_URL@", base + "/mutate");
  replace("@VALIDATE_URL@", base + "/validate");
  replace("@CA_BUNDLE@", base64::Encode(certs->cert_pem));
  replace("@INSTALL_NAMESPACE@", "agentbudget-system");
  for (const std::string& manifest : {objects, config}) {
    auto applied = (*cluster)->Kubectl({"apply", "-f", "-"}, manifest);
    if (!applied.ok() || applied->exit_code != 0) {
      return Fail("kubectl apply: " + (applied.ok() ? applied->output : ""));
    }
  }
  auto rest = kube::LoadKubeconfig((*cluster)->kubeconfig());
  kube::ClientOptions options;
  options.qps = 100000;
  options.burst = 100000;
  auto client = kube::Client::Create(*rest, options);
  if (!client.ok()) {
    return Fail(client.error().ToString());
  }
  // Wait for the webhook's caches to see the namespace (a pod comes out injected).
  const auto deadline = SteadyClock::now() + std::chrono::seconds(30);
  bool injected = false;
  while (!injected && SteadyClock::now() < deadline) {
    auto probe = (*cluster)->Kubectl(
        {"run", "probe", "-n", "governed", "--image=agent:1", "--dry-run=server", "-o", "json",
         "--labels=agentbudget.io/workload=bench"});
    injected = probe.ok() && probe->output.find("agentbudget-meter") != std::string::npos;
    if (!injected) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // poll interval
    }
  }
  if (!injected) {
    return Fail("the webhook never injected a probe pod");
  }
  const int64_t rss_rest = webhook.RssKib();
  (void)CreatePods(**client, "plain", 50, concurrency);  // warm the API server
  const Figures baseline = CreatePods(**client, "plain", pods, concurrency);
  auto before = webhook.Get("/metrics");
  const Figures governed = CreatePods(**client, "governed", pods, concurrency);
  auto after = webhook.Get("/metrics");
  const int64_t rss_load = webhook.RssKib();
  if (!before.ok() || !after.ok()) {
    return Fail("cannot read the webhook's metrics");
  }
  auto [m0, mc0] = HistogramTotals(*before, "mutate");
  auto [m1, mc1] = HistogramTotals(*after, "mutate");
  auto [v0, vc0] = HistogramTotals(*before, "validate");
  auto [v1, vc1] = HistogramTotals(*after, "validate");
  const double mutate_ms = mc1 > mc0 ? (m1 - m0) / (mc1 - mc0) * 1000 : 0;
  const double validate_ms = vc1 > vc0 ? (v1 - v0) / (vc1 - vc0) * 1000 : 0;
  std::printf("pod creation through the API server, %d pods, concurrency %d\n", pods, concurrency);
  std::printf("  without webhook: p50 %.2f ms  p99 %.2f ms  %.0f pods/s  failures %d\n",
              baseline.p50, baseline.p99, baseline.per_second, baseline.failures);
  std::printf("  with webhook:    p50 %.2f ms  p99 %.2f ms  %.0f pods/s  failures %d\n",
              governed.p50, governed.p99, governed.per_second, governed.failures);
  std::printf("  webhook handler time per pod: mutate %.3f ms + validate %.3f ms (%.1f%% of p50)\n",
              mutate_ms, validate_ms,
              governed.p50 > 0 ? 100 * (mutate_ms + validate_ms) / governed.p50 : 0);
  std::printf("  webhook RSS: at rest %lld KiB, after load %lld KiB\n",
              static_cast<long long>(rss_rest), static_cast<long long>(rss_load));
  return baseline.failures + governed.failures == 0 ? 0 : 1;
}
