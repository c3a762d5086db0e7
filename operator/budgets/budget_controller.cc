#include "operator/budgets/budget_controller.h"

#include "api/v1alpha1/resources.h"
#include "common/log.h"
#include "core/budget_spec.h"
#include "operator/budgets/budget_status.h"
#include "core/time_format.h"

namespace agentbudget::budgets {

namespace {

core::SysSeconds Seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::floor<std::chrono::seconds>(t);
}

}  // namespace

BudgetController::BudgetController(kube::Client& client, const kube::Informer& budgets,
                                   authority::Ledger& ledger, const Clock& clock, Options options)
    : client_(client),
      budgets_(budgets),
      ledger_(ledger),
      clock_(clock),
      options_(std::move(options)) {}

Result<kube::ReconcileResult> BudgetController::Reconcile(const std::string& name) {
  const std::optional<nlohmann::json> object = budgets_.store().Get(name);
  if (!object) {
    ledger_.RemoveBudget(name);
    MutexLock lock(mu_);
    tracked_.erase(name);
    return kube::ReconcileResult{};
  }
  ApplySpec(*object);
  SyncStatus(name);
  kube::ReconcileResult result;
  result.requeue_after = options_.status_interval;
  return result;
}

void BudgetController::ApplySpecs() {
  for (const nlohmann::json& object : budgets_.store().List()) {
    ApplySpec(object);
  }
}

void BudgetController::ApplySpec(const nlohmann::json& object) {
  const std::string name = object.value("/metadata/name"_json_pointer, std::string());
  if (name.empty()) {
    return;
  }
  const std::string uid = object.value("/metadata/uid"_json_pointer, std::string());
  const int64_t generation = object.value("/metadata/generation"_json_pointer, int64_t{0});
  {
    MutexLock lock(mu_);
    Tracked& tracked = tracked_[name];
    if (tracked.stored_status.is_null() && object.contains("status")) {
      tracked.stored_status = object["status"];
    }
    if (tracked.applied && tracked.uid == uid && tracked.generation == generation) {
      return;  // the ledger has this spec
    }
  }
  auto spec = core::ParseAgentBudget(object, options_.zoneinfo_dir);
  MutexLock lock(mu_);
  Tracked& tracked = tracked_[name];
  tracked.uid = uid;
  tracked.generation = generation;
  tracked.applied = true;
  if (!spec.ok()) {
    tracked.invalid = spec.error().message;
    log::Warn("invalid AgentBudget", {{"name", name}, {"error", spec.error().message}});
    return;
  }
  tracked.invalid.clear();
  tracked.alerts = spec->alerts;
  ledger_.UpsertBudget(std::move(*spec));
}

void BudgetController::Emit(const std::string& name, const std::string& uid,
                            const std::string& type, const std::string& reason,
                            const std::string& message) {
  const std::string now = core::FormatRfc3339(Seconds(clock_.Now()));
  const nlohmann::json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"generateName", name + "."}, {"namespace", options_.events_namespace}}},
      {"involvedObject",
       {{"apiVersion", "agentbudget.io/v1alpha1"}, {"kind", "AgentBudget"}, {"name", name},
        {"uid", uid}}},
      {"type", type},
      {"reason", reason},
      {"message", message},
      {"source", {{"component", "agentbudget-operator"}}},
      {"reportingComponent", "agentbudget-operator"},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"count", 1},
  };
  if (auto created = client_.Create(kube::resources::kEvents, options_.events_namespace, event);
      !created.ok()) {
    log::Warn("could not emit event", {{"budget", name}, {"reason", reason},
                                       {"error", created.error().ToString()}});
  }
}

void BudgetController::SyncStatus(const std::string& name) {
  const core::SysSeconds now = Seconds(clock_.Now());
  const std::optional<authority::BudgetSnapshot> snapshot = ledger_.Budget(name);
  struct Write {
    std::string name;
    std::string uid;
    nlohmann::json status;
    std::vector<BudgetEvent> events;
  };
  std::vector<Write> writes;
  {
    MutexLock lock(mu_);
    const auto found = tracked_.find(name);
    if (found == tracked_.end()) {
      return;
    }
    Tracked& tracked = found->second;
    nlohmann::json status;
    std::vector<BudgetEvent> events;
    if (!tracked.invalid.empty() || !snapshot) {
      status = tracked.stored_status.is_object() ? tracked.stored_status : nlohmann::json::object();
      status["observedGeneration"] = tracked.generation;
      status["conditions"] = nlohmann::json::array(
          {{{"type", "Ready"},
            {"status", "False"},
            {"reason", "InvalidSpec"},
            {"message", tracked.invalid.empty() ? "not yet tracked" : tracked.invalid},
            {"lastTransitionTime", core::FormatRfc3339(now)},
            {"observedGeneration", tracked.generation}}});
    } else {
      BudgetStatusUpdate update =
          BuildBudgetStatus(*snapshot, tracked.alerts, tracked.stored_status, now);
      status = std::move(update.status);
      events = std::move(update.events);
    }
    if (status != tracked.stored_status) {
      writes.push_back({name, tracked.uid, std::move(status), std::move(events)});
    }
  }
  for (Write& write : writes) {
    kube::PatchOptions options;
    options.subresource = "status";
    // A merge patch replaces lists whole; null-out fields that may disappear.
    nlohmann::json status = write.status;
    for (const char* optional : {"topKeys", "keys", "keysOverAlert", "history", "periodEnd"}) {
      if (!status.contains(optional)) {
        status[optional] = nullptr;
      }
    }
    auto patched = client_.Patch(v1alpha1::kAgentBudgets, "", write.name, kube::PatchType::kMerge,
                                 {{"status", status}}, options);
    if (!patched.ok()) {
      log::Warn("status write failed; will retry", {{"budget", write.name},
                                                    {"error", patched.error().ToString()}});
      continue;
    }
    {
      MutexLock lock(mu_);
      if (auto tracked = tracked_.find(write.name); tracked != tracked_.end()) {
        tracked->second.stored_status = write.status;
      }
    }
    // Events follow the status that records the crossing, so a failed write cannot
    // repeat them and a crash between the two loses at most one Event.
    for (const BudgetEvent& event : write.events) {
      Emit(write.name, write.uid, event.type, event.reason, event.message);
    }
  }
}

}  // namespace agentbudget::budgets
