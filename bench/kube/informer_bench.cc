// Informer benchmark: sync time and memory per cached object for N Pods, and watch event
// throughput. By default it serves realistic Pods (a governed agent Job's Pod, with
// managedFields) from the scripted local server in tests/kube, so the figures measure the
// client alone; with --kubeconfig it syncs the Pods of a real cluster instead.
//
//   kube_informer_bench [--pods N] [--events M] [--kubeconfig PATH [--namespace NS]]
//
// Build without sanitizers (heap figures come from glibc's mallinfo2). See
// docs/kube-client.md for how to read the output.
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "common/log.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/informer.h"
#include "tests/kube/fake_api_server.h"

namespace agentbudget::kube {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::size_t HeapInUse() {
  malloc_trim(0);
  return mallinfo2().uordblks;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// A Pod as a governed agent Job's Pod looks once running: labels and annotations stamped
// by the webhook, the meter as a native sidecar, a projected token volume, four
// conditions, two container statuses and three managedFields entries.
json AgentPod(int i, int rv) {
  std::string name = "agent-run-" + std::to_string(i / 3) + "-" + std::to_string(10000 + i);
  std::string uid = "5f1c2d3e-" + std::to_string(1000 + i % 9000) + "-4a5b-8c9d-0e1f2a3b4c5d";
  json env = json::array({{{"name", "ANTHROPIC_BASE_URL"}, {"value", "http://127.0.0.1:8787/anthropic"}},
                          {{"name", "OPENAI_BASE_URL"}, {"value", "http://127.0.0.1:8787/openai/v1"}},
                          {{"name", "ANTHROPIC_API_KEY"}, {"value", "placeholder"}}});
  json mounts = json::array({{{"name", "kube-api-access-x7k2p"},
                              {"mountPath", "/var/run/secrets/kubernetes.io/serviceaccount"},
                              {"readOnly", true}}});
  json fields_v1 = {{"f:metadata", {{"f:labels", {{"f:agentbudget.io/team", json::object()},
                                                  {"f:agentbudget.io/workload", json::object()},
                                                  {"f:job-name", json::object()}}},
                                    {"f:ownerReferences", {{"k:{\"uid\":\"" + uid + "\"}", json::object()}}}}},
                    {"f:spec", {{"f:containers", {{"k:{\"name\":\"agent\"}", {{"f:image", json::object()},
                                                                              {"f:env", json::object()},
                                                                              {"f:resources", json::object()}}}}},
                                {"f:restartPolicy", json::object()},
                                {"f:terminationGracePeriodSeconds", json::object()}}}};
  return {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", name},
        {"generateName", "agent-run-" + std::to_string(i / 3) + "-"},
        {"namespace", "team-" + std::to_string(i % 20)},
        {"uid", uid},
        {"resourceVersion", std::to_string(rv)},
        {"creationTimestamp", "2026-11-27T20:00:00Z"},
        {"labels",
         {{"agentbudget.io/workload", "pr-review"},
          {"agentbudget.io/team", "payments"},
          {"agentbudget.io/workflow", "review"},
          {"agentbudget.io/run", uid},
          {"agentbudget.io/class", "AutonomousBounded"},
          {"agentbudget.io/priority", "Standard"},
          {"batch.kubernetes.io/controller-uid", uid},
          {"batch.kubernetes.io/job-name", "agent-run-" + std::to_string(i / 3)},
          {"job-name", "agent-run-" + std::to_string(i / 3)}}},
        {"annotations",
         {{"agentbudget.io/repo", "acme/payments-service"},
          {"agentbudget.io/injected", "meter=v1,env=v1"}}},
        {"ownerReferences",
         json::array({{{"apiVersion", "batch/v1"}, {"kind", "Job"},
                       {"name", "agent-run-" + std::to_string(i / 3)}, {"uid", uid},
                       {"controller", true}, {"blockOwnerDeletion", true}}})},
        {"managedFields",
         json::array({{{"manager", "kube-controller-manager"}, {"operation", "Update"},
                       {"apiVersion", "v1"}, {"time", "2026-11-27T20:00:00Z"},
                       {"fieldsType", "FieldsV1"}, {"fieldsV1", fields_v1}},
                      {{"manager", "kube-scheduler"}, {"operation", "Update"},
                       {"apiVersion", "v1"}, {"time", "2026-11-27T20:00:01Z"},
                       {"fieldsType", "FieldsV1"}, {"subresource", "status"},
                       {"fieldsV1", {{"f:status", {{"f:conditions", json::object()}}}}}},
                      {{"manager", "kwok"}, {"operation", "Update"}, {"apiVersion", "v1"},
                       {"time", "2026-11-27T20:00:02Z"}, {"fieldsType", "FieldsV1"},
                       {"subresource", "status"},
                       {"fieldsV1", {{"f:status", {{"f:containerStatuses", json::object()},
                                                   {"f:phase", json::object()},
                                                   {"f:podIP", json::object()}}}}}}})}}},
      {"spec",
       {{"initContainers",
         json::array({{{"name", "agentbudget-meter"}, {"image", "ghcr.io/agentbudget/meter:0.1.0"},
                       {"restartPolicy", "Always"},
                       {"ports", json::array({{{"containerPort", 8787}, {"protocol", "TCP"}}})},
                       {"resources", {{"requests", {{"cpu", "50m"}, {"memory", "64Mi"}}}}},
                       {"volumeMounts", mounts},
                       {"terminationMessagePath", "/dev/termination-log"},
                       {"terminationMessagePolicy", "File"},
                       {"imagePullPolicy", "IfNotPresent"}}})},
        {"containers",
         json::array({{{"name", "agent"}, {"image", "ghcr.io/acme/claude-code-runner:2.4"},
                       {"args", json::array({"--task", "review", "--pr", std::to_string(4000 + i)})},
                       {"env", env},
                       {"resources", {{"requests", {{"cpu", "1"}, {"memory", "2Gi"}}},
                                      {"limits", {{"memory", "4Gi"}}}}},
                       {"volumeMounts", mounts},
                       {"terminationMessagePath", "/dev/termination-log"},
                       {"terminationMessagePolicy", "File"},
                       {"imagePullPolicy", "IfNotPresent"}}})},
        {"restartPolicy", "Never"},
        {"terminationGracePeriodSeconds", 30},
        {"dnsPolicy", "ClusterFirst"},
        {"serviceAccountName", "default"},
        {"nodeName", "kwok-node-" + std::to_string(i % 4)},
        {"securityContext", json::object()},
        {"schedulerName", "default-scheduler"},
        {"tolerations",
         json::array({{{"key", "node.kubernetes.io/not-ready"}, {"operator", "Exists"},
                       {"effect", "NoExecute"}, {"tolerationSeconds", 300}},
                      {{"key", "node.kubernetes.io/unreachable"}, {"operator", "Exists"},
                       {"effect", "NoExecute"}, {"tolerationSeconds", 300}}})},
        {"priority", 0},
        {"enableServiceLinks", true},
        {"preemptionPolicy", "PreemptLowerPriority"},
        {"volumes",
         json::array({{{"name", "kube-api-access-x7k2p"},
                       {"projected",
                        {{"defaultMode", 420},
                         {"sources",
                          json::array({{{"serviceAccountToken",
                                         {{"expirationSeconds", 3607}, {"path", "token"}}}},
                                       {{"configMap",
                                         {{"name", "kube-root-ca.crt"},
                                          {"items", json::array({{{"key", "ca.crt"},
                                                                  {"path", "ca.crt"}}})}}}}})}}}}})}}},
      {"status",
       {{"phase", "Running"},
        {"conditions",
         json::array({{{"type", "Initialized"}, {"status", "True"},
                       {"lastTransitionTime", "2026-11-27T20:00:01Z"}},
                      {{"type", "Ready"}, {"status", "True"},
                       {"lastTransitionTime", "2026-11-27T20:00:02Z"}},
                      {{"type", "ContainersReady"}, {"status", "True"},
                       {"lastTransitionTime", "2026-11-27T20:00:02Z"}},
                      {{"type", "PodScheduled"}, {"status", "True"},
                       {"lastTransitionTime", "2026-11-27T20:00:00Z"}}})},
        {"hostIP", "10.0.0." + std::to_string(i % 4)},
        {"podIP", "10.244." + std::to_string(i / 250) + "." + std::to_string(i % 250)},
        {"startTime", "2026-11-27T20:00:01Z"},
        {"qosClass", "Burstable"},
        {"containerStatuses",
         json::array({{{"name", "agent"}, {"ready", true}, {"restartCount", 0},
                       {"image", "ghcr.io/acme/claude-code-runner:2.4"},
                       {"imageID", ""}, {"started", true},
                       {"state", {{"running", {{"startedAt", "2026-11-27T20:00:02Z"}}}}}}})}}}};
}

struct Args {
  int pods = 10000;
  int events = 50000;
  std::string kubeconfig;
  std::string ns;
};

Args Parse(int argc, char** argv) {
  Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--pods") {
      args.pods = std::atoi(argv[i + 1]);
    } else if (flag == "--events") {
      args.events = std::atoi(argv[i + 1]);
    } else if (flag == "--kubeconfig") {
      args.kubeconfig = argv[i + 1];
    } else if (flag == "--namespace") {
      args.ns = argv[i + 1];
    }
  }
  return args;
}

// Syncs an informer on pods and prints sync time and memory per cached Pod.
int MeasureSync(Client& client, const std::string& ns, std::size_t json_bytes_per_pod,
                std::size_t stripped_bytes_per_pod) {
  std::size_t heap_before = HeapInUse();
  InformerOptions options;
  options.reflector.ns = ns;
  auto informer = std::make_unique<Informer>(client, resources::kPods, options);
  informer->AddIndex("workload", LabelIndexFunc("agentbudget.io/workload"));
  auto start = Clock::now();
  informer->Start();
  if (!informer->WaitForSync(std::chrono::minutes(10))) {
    std::fprintf(stderr, "informer did not sync\n");
    return 1;
  }
  auto synced = Clock::now() - start;
  std::size_t cached = informer->store().size();
  std::size_t heap_after = HeapInUse();
  double per_pod = cached == 0 ? 0 : static_cast<double>(heap_after - heap_before) / cached;
  std::printf("pods cached:                  %zu\n", cached);
  std::printf("informer sync time:           %.3f s (%.0f pods/s)\n", Seconds(synced),
              cached / Seconds(synced));
  if (json_bytes_per_pod > 0) {
    std::printf("pod JSON as served:           %zu bytes\n", json_bytes_per_pod);
    std::printf("pod JSON without managedFields: %zu bytes\n", stripped_bytes_per_pod);
  }
  std::printf("encoded bytes per cached pod: %.0f\n",
              static_cast<double>(informer->store().EncodedBytes()) / std::max<std::size_t>(1, cached));
  std::printf("heap bytes per cached pod:    %.0f\n", per_pod);
  if (json_bytes_per_pod > 0) {
    std::printf("heap / JSON as served:        %.2f\n", per_pod / json_bytes_per_pod);
  }
  // For contrast: the same objects held as parsed nlohmann::json trees.
  if (json_bytes_per_pod > 0) {
    std::vector<json> all = informer->store().List();
    std::size_t heap_tree = HeapInUse();
    std::printf("heap bytes per pod as json tree (for contrast): %.0f\n",
                static_cast<double>(heap_tree - heap_after) / std::max<std::size_t>(1, cached));
  }
  informer->Stop();
  return 0;
}

int RunFake(const Args& args) {
  std::string list_body;
  std::size_t json_bytes = 0;
  std::size_t stripped_bytes = 0;
  {
    json list = {{"kind", "PodList"}, {"apiVersion", "v1"},
                 {"metadata", {{"resourceVersion", std::to_string(args.pods + 1)}}},
                 {"items", json::array()}};
    for (int i = 0; i < args.pods; ++i) {
      list["items"].push_back(AgentPod(i, i + 1));
    }
    json_bytes = list["items"][0].dump().size();
    json stripped = list["items"][0];
    StripManagedFields(stripped);
    stripped_bytes = stripped.dump().size();
    list_body = list.dump();
  }
  // The watch stream: `events` modifications cycling over the pods, in 16 KiB chunks.
  std::string watch_body;
  for (int e = 0; e < args.events; ++e) {
    watch_body += json{{"type", "MODIFIED"}, {"object", AgentPod(e % args.pods, args.pods + 2 + e)}}.dump();
    watch_body += '\n';
  }
  std::atomic<bool> stream_watch{false};
  testing::FakeApiServer server([&](const testing::ReceivedRequest& r, testing::Connection& c) {
    if (r.Query("watch").empty()) {
      c.RespondJson(200, list_body);
      return;
    }
    c.StartChunked(200);
    testing::WaitUntil([&] { return stream_watch.load() || server.stopping(); },
                       std::chrono::minutes(10));
    for (std::size_t off = 0; off < watch_body.size() && !server.stopping(); off += 16384) {
      if (!c.WriteChunk(std::string_view(watch_body).substr(off, 16384))) {
        return;
      }
    }
    testing::WaitUntil([&] { return server.stopping(); }, std::chrono::minutes(10));
  });
  TransportConfig transport;
  transport.server = server.url();
  auto made = NewCpprestTransport(transport);
  if (!made.ok()) {
    return 1;
  }
  Client client(std::shared_ptr<Transport>(std::move(made).value()), "", "", ClientOptions{});
  std::printf("== informer sync, %d pods from the scripted local server ==\n", args.pods);
  if (int rc = MeasureSync(client, "", json_bytes, stripped_bytes); rc != 0) {
    return rc;
  }

  std::printf("== watch throughput, %d MODIFIED events (%.1f MiB) ==\n", args.events,
              watch_body.size() / 1048576.0);
  std::atomic<int> seen{0};
  Informer informer(client, resources::kPods, {});
  ResourceEventHandlers handlers;
  handlers.on_update = [&](const json&, const json&) { ++seen; };
  informer.AddEventHandlers(handlers);
  informer.Start();
  informer.WaitForSync(std::chrono::minutes(5));
  auto start = Clock::now();
  stream_watch = true;
  testing::WaitUntil([&] { return seen.load() >= args.events; }, std::chrono::minutes(10));
  auto took = Clock::now() - start;
  std::printf("events delivered:             %d in %.3f s = %.0f events/s (%.1f MiB/s)\n",
              seen.load(), Seconds(took), seen.load() / Seconds(took),
              watch_body.size() / 1048576.0 / Seconds(took));
  informer.Stop();
  return 0;
}

int RunCluster(const Args& args) {
  Result<RestConfig> config = LoadKubeconfig(args.kubeconfig);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.error().ToString().c_str());
    return 1;
  }
  Result<std::unique_ptr<Client>> client = Client::Create(*config);
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n", client.error().ToString().c_str());
    return 1;
  }
  ListOptions one;
  one.limit = 1;
  auto sample = (*client)->List(resources::kPods, args.ns, one);
  std::size_t json_bytes = 0;
  std::size_t stripped_bytes = 0;
  if (sample.ok() && !sample->items.empty()) {
    json_bytes = sample->items[0].dump().size();
    json stripped = sample->items[0];
    StripManagedFields(stripped);
    stripped_bytes = stripped.dump().size();
  }
  std::printf("== informer sync, pods of %s ==\n", config->transport.server.c_str());
  return MeasureSync(**client, args.ns, json_bytes, stripped_bytes);
}

}  // namespace
}  // namespace agentbudget::kube

int main(int argc, char** argv) {
#if defined(__SANITIZE_ADDRESS__)
  std::printf("note: built with AddressSanitizer; heap figures are not meaningful\n");
#endif
  agentbudget::log::Configure("kube-bench", agentbudget::log::Level::kWarn);
  agentbudget::kube::Args args = agentbudget::kube::Parse(argc, argv);
  return args.kubeconfig.empty() ? agentbudget::kube::RunFake(args)
                                 : agentbudget::kube::RunCluster(args);
}
