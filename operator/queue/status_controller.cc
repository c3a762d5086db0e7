#include "operator/queue/status_controller.h"

#include <algorithm>
#include <set>

#include "api/v1alpha1/resources.h"
#include "common/log.h"
#include "operator/queue/workload_status.h"

namespace agentbudget::queue {
namespace {

using nlohmann::json;

// The idempotency key of the report that `run` ended with (or was judged) `outcome`.
std::string OutcomeKey(const std::string& run, const std::string& outcome) {
  return "outcome-" + run + "-" + outcome;
}

}  // namespace

StatusController::StatusController(kube::Client& client, QueueCache& cache, QueueWriter& writer,
                                   authority::Ledger& ledger, QueueMetrics& metrics,
                                   RunCostAnomalies& anomalies, Options options)
    : client_(client),
      cache_(cache),
      writer_(writer),
      ledger_(ledger),
      metrics_(metrics),
      anomalies_(anomalies),
      options_(options),
      reported_(std::make_shared<ReportedOutcomes>()) {}

Result<kube::ReconcileResult> StatusController::Reconcile(const std::string& workload) {
  std::vector<Entry> entries = cache_.OfWorkload(workload);
  const bool more = MarkFinished(entries);
  ReportOutcomes(workload, entries);
  WriteStatus(workload, entries);
  kube::ReconcileResult result;
  if (more) {
    result.requeue_after = std::chrono::milliseconds{200};
  } else if (cache_.workloads().store().Get(workload) || !entries.empty()) {
    result.requeue_after = options_.resync;
  }
  return result;
}

bool StatusController::MarkFinished(std::vector<Entry>& entries) {
  int writes = 0;
  bool more = false;
  for (Entry& entry : entries) {
    if (entry.item.state != QueueState::kFinished) {
      continue;
    }
    if (writes >= options_.max_writes_per_pass) {
      return true;
    }
    ++writes;
    const QueueAnnotation finished = QueueAnnotation::Finished(entry.item.succeeded);
    if (!writer_.Apply(entry, AnnotationPatch(finished), QueueState::kRecorded, finished).ok()) {
      more = true;
      continue;
    }
    metrics_.CountOutcome(finished.outcome);
  }
  return more;
}

void StatusController::ReportOutcomes(const std::string& workload,
                                      const std::vector<Entry>& entries) {
  std::set<std::string> ended;  // the workload's finished top-level runs still cached
  for (const Entry& entry : entries) {
    const QueueObject& item = entry.item;
    if (!item.parent_run.empty() ||
        (item.state != QueueState::kFinished && item.state != QueueState::kRecorded)) {
      continue;
    }
    ended.insert(item.run);
    std::vector<std::string> outcomes = {item.succeeded ? "Succeeded" : "Failed"};
    if (item.outcome == "merged" || item.outcome == "abandoned" || item.outcome == "reverted") {
      outcomes.push_back(item.outcome);
    }
    std::optional<Result<authority::Caller>> caller;  // read once, if anything is to report
    for (const std::string& outcome : outcomes) {
      if (!reported_->Claim(workload, item.run, outcome)) {
        continue;
      }
      if (!caller) {
        caller = cache_.CallerOf(entry);
      }
      if (!caller->ok()) {
        reported_->Release(workload, item.run, outcome);
        continue;  // not attributable: no workload to count it for
      }
      if (outcome == outcomes.front()) {
        JudgeCost(workload, entry);
      }
      // Keyed by run and outcome, so a report repeated after a restart counts once.
      const std::string key = OutcomeKey(item.run, outcome);
      authority::EventRequest report{key, authority::kOutcomeReport + outcome, 0, 0,
                                     std::hash<std::string>{}(key)};
      ledger_.RecordEvent(**caller, report,
                          [reported = reported_, workload, run = item.run, outcome,
                           key](Result<json> answer) {
                            if (!answer.ok()) {
                              log::Warn("run outcome not recorded; retrying next pass",
                                        {{"key", key}, {"error", answer.error().ToString()}});
                              reported->Release(workload, run, outcome);
                            }
                          });
    }
  }
  // Runs whose objects are gone are not reported again.
  reported_->Retain(workload, ended);
}

void StatusController::JudgeCost(const std::string& workload, const Entry& entry) {
  const int64_t cost = ledger_.Run(entry.item.run).totals.spent.micros();
  const std::optional<CostAnomaly> anomaly = anomalies_.Judge(workload, entry.item.run, cost);
  if (anomaly) {
    writer_.Record(entry, kube::EventSeverity::kWarning, "RunCostAnomaly",
                   "AgentWorkload " + workload + ": " + anomaly->Describe());
  }
  metrics_.CountRunCost(workload, anomaly.has_value());
  if (on_judged_) {
    on_judged_(workload);
  }
}

void StatusController::WriteStatus(const std::string& workload,
                                   const std::vector<Entry>& entries) {
  const json object = cache_.WorkloadObject(workload);
  if (!object.is_object() && entries.empty()) {
    metrics_.SetWorkload(workload, std::nullopt);
    cache_.ForgetWorkload(workload);
    MutexLock lock(mu_);
    status_written_.erase(workload);
    return;
  }
  WorkloadTally tally;
  for (const Entry& entry : entries) {
    if (entry.item.state == QueueState::kHeld) {
      ++tally.queued;
    } else if (entry.item.state == QueueState::kRunning) {
      ++tally.active;
    }
  }
  if (const std::optional<v1alpha1::Workload> parsed = cache_.Workload(workload)) {
    const std::map<std::string, authority::WorkloadSpend> spends = ledger_.WorkloadSpends();
    if (const auto spend = spends.find(workload); spend != spends.end()) {
      TallyMonth(spend->second, parsed->fallback_models, tally);
    }
  }
  metrics_.SetWorkload(workload, tally);
  if (!object.is_object()) {
    return;  // objects of a workload that does not exist (yet)
  }
  const json old_status = object.value("status", json::object());
  tally.admitted = cache_.Admitted(workload, old_status.value("admittedRuns", int64_t{0}));
  const json status = WorkloadStatusPatch(tally, object["metadata"].value("generation", int64_t{0}));
  {
    MutexLock lock(mu_);
    if (StatusHolds(old_status, status) || status_written_[workload] == status) {
      return;
    }
  }
  kube::PatchOptions options;
  options.subresource = "status";
  auto written = client_.Patch(v1alpha1::kAgentWorkloads, object["metadata"].value("namespace", ""),
                               object["metadata"].value("name", ""), kube::PatchType::kMerge,
                               {{"status", status}}, options);
  if (!written.ok()) {
    log::Warn("workload status write failed; retrying next pass",
              {{"workload", workload}, {"error", written.error().ToString()}});
    return;
  }
  MutexLock lock(mu_);
  status_written_[workload] = status;
}

}  // namespace agentbudget::queue
