#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>

#include "common/mutex.h"
#include "kube/rate_limiter.h"

namespace agentbudget::kube {

// A work queue of object keys with client-go's guarantees:
//  - a key waiting in the queue is there once, however often it is added;
//  - a key is handed to one worker at a time: added while a worker holds it, it waits and
//    is handed out again after that worker calls Done();
//  - AddAfter() delays a key; AddRateLimited() delays it by the rate limiter (per-key
//    exponential backoff and an overall token bucket) until Forget().
// Thread-safe. One internal thread moves delayed keys into the queue when they are due.
class WorkQueue {
 public:
  explicit WorkQueue(QueueRateLimiter::Options limits = {},
                     const Clock& clock = SystemClock::Instance());
  // Shuts down (without draining) and joins the delay thread.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Ignored after shutdown.
  void Add(const std::string& key) EXCLUDES(mu_);
  // Adds `key` once `delay` has passed; a key already waiting keeps the earlier time.
  void AddAfter(const std::string& key, std::chrono::nanoseconds delay) EXCLUDES(mu_);
  void AddRateLimited(const std::string& key) EXCLUDES(mu_);
  // Resets the key's backoff (it was processed successfully).
  void Forget(const std::string& key);
  int NumRequeues(const std::string& key) const;

  // Blocks until a key is available and returns it, marking it in-process. Returns
  // nullopt once the queue is shut down and empty. Keys queued before shutdown are still
  // handed out. REQUIRES: the caller calls Done(key) when finished with it.
  std::optional<std::string> Get() EXCLUDES(mu_);
  void Done(const std::string& key) EXCLUDES(mu_);

  // Stops accepting keys and drops delayed ones; Get() returns the remaining queued keys
  // and then nullopt.
  void ShutDown() EXCLUDES(mu_);
  // ShutDown(), then blocks until every queued key has been handed out and Done().
  void ShutDownWithDrain() EXCLUDES(mu_);
  bool shutting_down() const EXCLUDES(mu_);

  // Keys waiting to be handed out (not delayed, not in process).
  std::size_t Len() const EXCLUDES(mu_);

 private:
  void DelayLoop() EXCLUDES(mu_);

  QueueRateLimiter limiter_;
  mutable Mutex mu_;
  CondVar cv_;
  std::deque<std::string> queue_ GUARDED_BY(mu_);
  std::unordered_set<std::string> dirty_ GUARDED_BY(mu_);  // queued or re-added
  std::unordered_set<std::string> processing_ GUARDED_BY(mu_);
  // Delayed keys by due time, and each key's due time (for "keep the earlier").
  std::multimap<std::chrono::steady_clock::time_point, std::string> waiting_ GUARDED_BY(mu_);
  std::map<std::string, std::chrono::steady_clock::time_point> waiting_at_ GUARDED_BY(mu_);
  bool shutting_down_ GUARDED_BY(mu_) = false;
  std::thread delay_thread_;
};

}  // namespace agentbudget::kube
