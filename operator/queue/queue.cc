#include "operator/queue/queue.h"

#include <string>
#include <vector>

#include "api/v1alpha1/labels.h"
#include "common/log.h"
#include "kube/resource.h"

namespace agentbudget::queue {
namespace {

using nlohmann::json;

// Maps a governed Job or Pod to its own workload's key (none when unlabelled).
kube::MapFunc OwnWorkload(QueueObject::Kind kind) {
  return [kind](const json& object) {
    return std::vector<std::string>{ReadQueueObject(object, kind).workload};
  };
}

bool Labelled(const json& object) {
  return v1alpha1::LabelsOf(object).contains(v1alpha1::keys::kWorkload);
}

}  // namespace

Queue::Queue(kube::Manager& manager, kube::Client& client, authority::Ledger& ledger,
             kube::EventRecorder& recorder, QueueMetrics& metrics, const Clock& clock,
             Options options)
    : cache_(manager),
      writer_(client, recorder, cache_),
      anomalies_(options.run_cost_anomaly_percent),
      admission_(cache_, writer_, pressure_, metrics, clock, options.admission),
      pressure_controller_(cache_, writer_, pressure_, metrics, options.resync),
      ceiling_(cache_, writer_, ledger, metrics, clock, options.resync),
      status_(client, cache_, writer_, ledger, metrics, anomalies_,
              StatusController::Options{options.admission.max_writes_per_pass, options.resync}),
      compute_(cache_, ledger, metrics, clock, options.prices),
      backstop_(client, cache_, writer_, metrics, anomalies_, clock) {
  using Kind = QueueObject::Kind;
  constexpr auto kLeader = kube::Scope::kLeader;
  kube::Informer& jobs = cache_.jobs();
  kube::Informer& pods = cache_.pods();
  kube::Informer& workloads = cache_.workloads();

  // Admission never plans before every budget's pressure is known, so a restarted leader
  // does not admit Deferrable work a budget under pressure holds.
  manager.AddLeaderSetup("queue-pressure", [this] {
    pressure_.Update(cache_.budgets().store().List());
    log::Info("admission queue started", {{"jobs", cache_.jobs().store().size()},
                                          {"pods", cache_.pods().store().size()},
                                          {"workloads", cache_.workloads().store().size()}});
    return OkStatus();
  });

  kube::Controller& admission =
      manager.AddController("agentworkload-admission", kLeader, 1,
                            [this](const std::string& key) { return admission_.Reconcile(key); });
  manager.Watch(admission, workloads);
  for (auto [informer, kind] : {std::pair{&jobs, Kind::kJob}, std::pair{&pods, Kind::kPod}}) {
    manager.Watch(admission, *informer, [this, kind](const json& object) {
      return cache_.WorkloadsSharingCaps(object, kind);
    });
  }
  // Namespace labels are part of the attribution budgets match.
  manager.Watch(admission, cache_.namespaces(), [&workloads](const json& ns) {
    return workloads.store().KeysByIndex(kube::kNamespaceIndex, kube::ObjectKey(ns));
  });

  kube::Controller& pressure = manager.AddController(
      "agentbudget-pressure", kLeader, 1,
      [this](const std::string& key) { return pressure_controller_.Reconcile(key); });
  manager.Watch(pressure, cache_.budgets());
  manager.Watch(pressure, jobs,
                [this](const json& job) { return pressure_controller_.BudgetsFor(job); });
  // A budget whose pressure changed can hold or release any workload's runs.
  pressure_controller_.SetReplanAll([&admission, &workloads] {
    for (const std::string& key : workloads.store().Keys()) {
      admission.queue().Add(key);
    }
  });

  kube::Controller& ceiling = manager.AddController(
      "agentworkload-ceiling", kLeader, 1,
      [this](const std::string& key) { return ceiling_.Reconcile(key); });
  kube::Controller& status = manager.AddController(
      "agentworkload-status", kLeader, 1,
      [this](const std::string& key) { return status_.Reconcile(key); });
  for (kube::Controller* controller : {&ceiling, &status}) {
    manager.Watch(*controller, workloads);
    manager.Watch(*controller, jobs, OwnWorkload(Kind::kJob));
    manager.Watch(*controller, pods, OwnWorkload(Kind::kPod));
  }

  kube::Controller& backstop = manager.AddController(
      "agentworkload-backstop", kLeader, 1,
      [this](const std::string& key) { return backstop_.Reconcile(key); });
  manager.Watch(backstop, workloads, [this](const json& w) { return backstop_.ForWorkload(w); });
  manager.Watch(backstop, cache_.namespaces(),
                [this](const json& ns) { return backstop_.ForNamespace(ns); });
  manager.Watch(backstop, jobs, [this](const json& job) { return backstop_.ForJob(job); });
  manager.Watch(backstop, pods, [this](const json& pod) { return backstop_.ForPod(pod); });
  // A run's judged cost changes the workload's RunCostAnomaly condition.
  status_.SetOnJudged([&backstop](const std::string& key) { backstop.queue().Add(key); });

  if (compute_.enabled()) {
    kube::Controller& compute = manager.AddController(
        "pod-compute", kLeader, 1,
        [this](const std::string& key) { return compute_.Reconcile(key); });
    // Only the pods the webhook labelled can be charged to a run, and only the replica
    // that holds the lease keeps their keys and deleted pods: another never drains them.
    // Once elected, every labelled pod is looked at, so one that ended meanwhile is charged.
    auto tracked = [&manager](const json& pod) { return manager.IsElected() && Labelled(pod); };
    kube::ResourceEventHandlers handlers;
    handlers.on_add = [&compute, tracked](const json& pod) {
      if (tracked(pod)) {
        compute.queue().Add(kube::ObjectKey(pod));
      }
    };
    handlers.on_update = [&compute, tracked](const json&, const json& pod) {
      if (tracked(pod)) {
        compute.queue().Add(kube::ObjectKey(pod));
      }
    };
    handlers.on_delete = [this, &compute, tracked](const json& pod) {
      if (tracked(pod)) {
        compute.queue().Add(compute_.OnDeleted(pod));
      }
    };
    pods.AddEventHandlers(std::move(handlers));
    manager.AddLeaderSetup("queue-compute", [&pods, &compute] {
      for (const json& pod : pods.store().List()) {
        if (Labelled(pod)) {
          compute.queue().Add(kube::ObjectKey(pod));
        }
      }
      return OkStatus();
    });
  }
}

}  // namespace agentbudget::queue
