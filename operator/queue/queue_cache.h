#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/v1alpha1/agent_workload.h"
#include "common/mutex.h"
#include "common/result.h"
#include "common/thread_annotations.h"
#include "core/budget_decision.h"
#include "kube/informer.h"
#include "kube/manager.h"
#include "operator/authority/caller.h"
#include "operator/queue/queue_object.h"

namespace agentbudget::queue {

// One Job or bare Pod as the queue's controllers see it: the cached object read with the
// queue's own writes the cache has not reflected yet applied.
struct Entry {
  QueueObject item;
  nlohmann::json object;  // the cached object
};

// The admission queue's view of the cluster, shared by its controllers: the manager's
// informers over every Job (without its pod template) and every Pod (a Pod without the
// agentbudget.io/workload label is cached as a skeleton: the metadata, the init containers'
// names and the phase), AgentWorkloads, AgentBudgets and Namespaces, indexed so that a
// reconcile reads only the objects of its key. Every Job and Pod, not only those the webhook
// labelled, so that the backstop finds what the webhook never saw. Plus what the cache
// does not show yet:
//  - writes not yet reflected (Remember): while the cached object still has the version a
//    write replaced, readers see the written state instead, so no reconcile counts from a
//    stale cache. Bounded: an entry is dropped when a read finds its write reflected, and
//    Remember sweeps out those whose object the cache holds at another version or not at
//    all once there are max(kSweepAt, twice as many as the last sweep kept), so there are
//    never more than that: the writes not yet reflected at the last sweep bound the rest;
//  - how many runs each workload admitted (status.admittedRuns is monotonic), one count per
//    workload, forgotten with the workload (ForgetWorkload).
// Thread-safe.
class QueueCache {
 public:
  // Requests the informers from `manager` and indexes them. REQUIRES: `manager` not started;
  // it outlives the cache.
  explicit QueueCache(kube::Manager& manager);
  QueueCache(const QueueCache&) = delete;
  QueueCache& operator=(const QueueCache&) = delete;

  kube::Informer& jobs() { return jobs_; }
  kube::Informer& pods() { return pods_; }
  kube::Informer& workloads() { return workloads_; }
  kube::Informer& budgets() { return budgets_; }
  kube::Informer& namespaces() { return namespaces_; }

  // Remembered unreflected writes past which Remember sweeps (see above).
  static constexpr size_t kSweepAt = 64;

  // Governed objects labelled for `workload` ("namespace/name").
  std::vector<Entry> OfWorkload(const std::string& workload) const EXCLUDES(mu_);
  // Governed subagents of run `run`, whatever their workload.
  std::vector<Entry> OfParentRun(const std::string& run) const EXCLUDES(mu_);
  // Governed objects that are running (admitted and not finished), as the cache says.
  std::vector<Entry> Running() const EXCLUDES(mu_);
  // Jobs of namespace `ns` that run without an admission (RunsWithoutAdmission), except
  // those with a write the cache has not reflected yet (it changed what they are). Each
  // entry is read as the webhook left it: its state may be kUngoverned.
  std::vector<Entry> RunningWithoutAdmission(const std::string& ns) const EXCLUDES(mu_);
  // Pods of namespace `ns` running without the meter (RunsWithoutMeter).
  std::vector<nlohmann::json> RunningWithoutMeter(const std::string& ns) const;
  // The keys ("namespace/name") of the AgentWorkloads governing `object` (a Job or Pod)
  // while its namespace is opted in: none or one.
  std::vector<std::string> GoverningWorkloads(const nlohmann::json& object) const;
  // The AgentWorkloads of namespace `ns` that parse, and the keys of all of them.
  std::vector<v1alpha1::Workload> WorkloadsIn(const std::string& ns) const;
  std::vector<std::string> WorkloadKeysIn(const std::string& ns) const;

  // The workload of top-level run `run`; "" when no cached object is that run.
  std::string WorkloadOfRun(const std::string& run) const;
  // Workload keys of the objects that map to `object` (a Job or Pod): its own, and for a
  // subagent those of its parent run's other subagents, whose fan-out caps it shares.
  std::vector<std::string> WorkloadsSharingCaps(const nlohmann::json& object,
                                                QueueObject::Kind kind) const;

  // The AgentWorkload `key`, parsed; nullopt when absent or invalid (the webhook reports it).
  std::optional<v1alpha1::Workload> Workload(const std::string& key) const;
  // The AgentWorkload object `key`; null when absent.
  nlohmann::json WorkloadObject(const std::string& key) const;
  // The Namespace `name`; an empty object when absent.
  nlohmann::json Namespace(const std::string& name) const;
  // The caller the authority charges `entry`'s run as: its attribution and budgets.
  Result<authority::Caller> CallerOf(const Entry& entry) const;

  // Remembers a successful write of `item` that changed it to `state` / `annotation`.
  void Remember(const QueueObject& item, QueueState state,
                std::optional<QueueAnnotation> annotation) EXCLUDES(mu_);

  // Adds `count` runs admitted for `workload` to what it had admitted: at least
  // `status_value` (its status.admittedRuns, where a restarted operator counts on from).
  void AddAdmitted(const std::string& workload, int64_t count, int64_t status_value)
      EXCLUDES(mu_);
  // The runs `workload` admitted: at least `status_value`.
  int64_t Admitted(const std::string& workload, int64_t status_value) const EXCLUDES(mu_);
  // Forgets what was counted for `workload`, which no longer exists.
  void ForgetWorkload(const std::string& workload) EXCLUDES(mu_);

  // Writes remembered and not yet found reflected (for tests of the bound).
  size_t unreflected_writes() const EXCLUDES(mu_);

 private:
  // A write not yet reflected by the informer.
  struct Written {
    QueueObject::Kind kind;
    std::string stale_version;
    QueueState state;
    std::optional<QueueAnnotation> annotation;
  };

  std::vector<Entry> Read(const std::string& index, const std::string& value) const
      EXCLUDES(mu_);
  // `object` read with the write remembered for it applied, if the cache has not reflected
  // it yet; `pending` says whether one was.
  Entry Resolve(nlohmann::json object, QueueObject::Kind kind, bool* pending) const
      REQUIRES(mu_);
  // Drops the writes whose objects the informers hold at another version, or not at all.
  void Sweep() REQUIRES(mu_);

  kube::Informer& jobs_;
  kube::Informer& pods_;
  kube::Informer& workloads_;
  kube::Informer& budgets_;
  kube::Informer& namespaces_;

  mutable Mutex mu_;
  // By object key. Entries whose write the cache reflects are dropped when read.
  mutable std::unordered_map<std::string, Written> written_ GUARDED_BY(mu_);
  size_t sweep_at_ GUARDED_BY(mu_) = kSweepAt;  // written_'s size that triggers a sweep
  std::map<std::string, int64_t> admitted_ GUARDED_BY(mu_);
};

// The priority of `item`: its agentbudget.io/priority label, else its workload's
// spec.priority, else Standard.
core::WorkPriority PriorityOf(const QueueObject& item, const v1alpha1::Workload* workload);

}  // namespace agentbudget::queue
