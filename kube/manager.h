#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/mutex.h"
#include "common/result.h"
#include "common/thread_annotations.h"
#include "kube/client.h"
#include "kube/controller.h"
#include "kube/informer.h"
#include "kube/leader_election.h"
#include "kube/stop_signal.h"

namespace agentbudget::kube {

// Where a controller or runnable runs: on every replica once the caches are synced, or
// only on the leader, once it leads and every leader setup has succeeded.
enum class Scope { kEveryReplica, kLeader };

// Runs until `stop` is set; waits on it (StopSignal::WaitFor) rather than sleeping.
using RunFunc = std::function<void(const StopSignal& stop)>;
// One step of periodic work; returns how long to wait before the next step.
using PeriodicFunc = std::function<std::chrono::milliseconds()>;
// Work the leader must finish before its controllers and runnables start (e.g. reading
// state back). An error is logged and the setup retried after ManagerOptions::setup_retry.
using SetupFunc = std::function<Status()>;
// The keys a change of `object` enqueues in a controller (controller-runtime's
// EnqueueRequestsFromMapFunc). On an update both the old and the new object are mapped.
using MapFunc = std::function<std::vector<std::string>(const nlohmann::json& object)>;

struct ManagerOptions {
  // Campaign for this Lease; absent: the process leads as soon as its caches are synced.
  std::optional<LeaderElectionConfig> leader_election;
  // Called when leadership is lost other than by Stop(), on the elector's thread. Absent:
  // log "lost leadership; exiting" and exit(1) at once, as client-go advises: another
  // replica may already be acting.
  std::function<void()> on_lost_leadership;
  std::chrono::milliseconds setup_retry{1000};
};

// One per process, as controller-runtime's pkg/manager: it owns one shared informer per
// kind (resource, namespace and selectors), the controllers and runnables that use them,
// and leader election. Everything is registered before Start(); Start() starts every
// informer once, waits until their caches are synced, then starts the kEveryReplica
// controllers and runnables; once this process leads it runs the leader setups in order
// and then starts the kLeader ones. Controllers are triggered only by informer events
// (Watch) and by their own requeues; periodic work waits on the stop signal.
//
// Thread-safe: registration and Start() from one thread; Stop(), IsLeader() and the
// informers' caches from any.
class Manager {
 public:
  // `client` must outlive the manager; the informers and the elector use it.
  explicit Manager(Client& client, ManagerOptions options = {});
  // Stop().
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // The process's informer for `gvr` with `options.reflector`'s namespace and selectors:
  // created on the first request and shared by every later one, whose other options
  // (transform, resync) are ignored. Owned by the manager. REQUIRES: not started.
  Informer& GetInformer(const GroupVersionResource& gvr, InformerOptions options = {})
      EXCLUDES(mu_);

  // A controller reconciling keys on `workers` threads, owned by the manager; it runs
  // only in `scope`, and its queue collects keys from Watch() even before it runs.
  // REQUIRES: not started; workers >= 1.
  Controller& AddController(std::string name, Scope scope, int workers, ReconcileFunc reconcile,
                            QueueRateLimiter::Options limits = {}) EXCLUDES(mu_);
  // Enqueues in `controller` the keys `map` returns for every change of `informer`'s
  // objects (null: the object's own key). REQUIRES: not started; both from this manager.
  void Watch(Controller& controller, Informer& informer, MapFunc map = nullptr);

  // Runs `setup` each time this process becomes the leader, before any kLeader work.
  // REQUIRES: not started.
  void AddLeaderSetup(std::string name, SetupFunc setup) EXCLUDES(mu_);
  // Runs `run` on a thread of its own in `scope`. REQUIRES: not started.
  void AddRunnable(std::string name, Scope scope, RunFunc run) EXCLUDES(mu_);
  // Runs `step` at once in `scope`, then again each time the delay it returned has passed.
  void AddPeriodic(std::string name, Scope scope, PeriodicFunc step);

  // Starts the informers and the election and returns; the rest starts on the manager's
  // own thread as described above. REQUIRES: not started.
  void Start() EXCLUDES(mu_);
  // Stops the controllers (finishing queued keys), the runnables, the election (releasing
  // a held lease) and the informers, in that order. Idempotent.
  void Stop() EXCLUDES(mu_);

  // Leading, with every leader setup done.
  bool IsLeader() const EXCLUDES(mu_);
  // Holds the lease (leader setups may still be running).
  bool IsElected() const EXCLUDES(mu_);
  // Blocks until the caches are synced and the kEveryReplica work started, or Stop().
  // Returns whether started.
  bool WaitStarted(std::chrono::milliseconds timeout) const EXCLUDES(mu_);
  // "resource?labelSelector=…" for each informer, in creation order: what the process
  // lists and watches.
  std::vector<std::string> InformerNames() const EXCLUDES(mu_);

 private:
  struct Work {
    std::string name;
    Scope scope;
    RunFunc run;
  };
  struct ControllerEntry {
    std::unique_ptr<Controller> controller;
    Scope scope;
    int workers;
  };

  // The manager's thread: caches, then replica work, then leadership, setups, leader work.
  void Run();
  bool WaitForCaches();
  bool WaitForLeadership() EXCLUDES(mu_);
  void StartScope(Scope scope) EXCLUDES(mu_);
  void OnStoppedLeading();

  Client& client_;
  const ManagerOptions options_;
  StopSignal stop_;

  mutable Mutex mu_;
  mutable CondVar cv_;
  // Registered before Start() and fixed after it.
  std::map<std::string, std::unique_ptr<Informer>> informers_ GUARDED_BY(mu_);
  std::vector<std::string> informer_order_ GUARDED_BY(mu_);
  std::vector<ControllerEntry> controllers_ GUARDED_BY(mu_);
  std::vector<std::pair<std::string, SetupFunc>> setups_ GUARDED_BY(mu_);
  std::vector<Work> work_ GUARDED_BY(mu_);
  bool started_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool replica_started_ GUARDED_BY(mu_) = false;
  bool elected_ GUARDED_BY(mu_) = false;   // holds the lease
  bool leading_ GUARDED_BY(mu_) = false;   // holds the lease and ran the setups
  std::vector<std::thread> work_threads_ GUARDED_BY(mu_);

  std::unique_ptr<LeaderElector> elector_;  // set before Start(), then read-only
  std::thread election_thread_;             // Start() and Stop() only
  std::thread thread_;                      // Start() and Stop() only
};

}  // namespace agentbudget::kube
