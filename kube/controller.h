#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "common/result.h"
#include "common/thread_annotations.h"
#include "kube/informer.h"
#include "kube/work_queue.h"

namespace agentbudget::kube {

// What a reconcile asks for next. Default: nothing (the key is done until it changes).
struct ReconcileResult {
  bool requeue = false;                           // again, with the key's backoff
  std::chrono::milliseconds requeue_after{0};     // again after this long (wins over requeue)
};

// Level-based reconcile of one key ("ns/name"): read the current state (from a cache),
// make the world match, be idempotent. An error requeues the key with backoff.
using ReconcileFunc = std::function<Result<ReconcileResult>(const std::string& key)>;

// N workers pulling keys from a WorkQueue and reconciling them, as controller-runtime's
// controller. A key is never reconciled by two workers at once. Thread-safe.
class Controller {
 public:
  Controller(std::string name, ReconcileFunc reconcile, QueueRateLimiter::Options limits = {});
  // Stops (draining) if running.
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Where informers' handlers put keys (see EnqueueHandlers).
  WorkQueue& queue() { return queue_; }

  // Starts `workers` threads. REQUIRES: workers >= 1; not started.
  void Start(int workers) EXCLUDES(mu_);
  // Stops taking new keys, lets the workers finish the queued and in-flight ones, joins.
  // Idempotent; a controller never started just stops taking keys.
  void Stop() EXCLUDES(mu_);

 private:
  void Work();

  const std::string name_;
  const ReconcileFunc reconcile_;
  WorkQueue queue_;  // synchronises itself
  Mutex mu_;
  std::vector<std::thread> workers_ GUARDED_BY(mu_);
};

// Handlers that enqueue the key of every added, updated and deleted object.
ResourceEventHandlers EnqueueHandlers(WorkQueue& queue);

}  // namespace agentbudget::kube
