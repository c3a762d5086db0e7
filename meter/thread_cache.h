#pragma once

#include <chrono>
#include <deque>
#include <functional>

#include "common/mutex.h"

namespace agentbudget::meter {

// Runs each task on a thread of its own, reusing a thread that finished an earlier task
// when one is idle: a call that blocks on its upstream stream for minutes never waits for
// another, and a burst of short calls does not pay a thread start each. Threads idle for
// `idle_limit` exit, so a quiet meter holds no idle stacks. Thread-safe.
class ThreadCache {
 public:
  explicit ThreadCache(std::chrono::milliseconds idle_limit);
  // Waits for the running tasks to finish and the idle threads to exit.
  ~ThreadCache();

  ThreadCache(const ThreadCache&) = delete;
  ThreadCache& operator=(const ThreadCache&) = delete;

  // Starts `task` now, on an idle thread or a new one. `task` must not throw.
  void Run(std::function<void()> task) EXCLUDES(mu_);

  // Threads alive, and those among them waiting for a task.
  int Threads() EXCLUDES(mu_);
  int IdleThreads() EXCLUDES(mu_);

 private:
  void Loop(std::function<void()> task) EXCLUDES(mu_);

  const std::chrono::milliseconds idle_limit_;
  Mutex mu_;
  CondVar work_;      // a task was queued, or stopping
  CondVar finished_;  // a thread exited
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);  // never longer than idle_
  int idle_ GUARDED_BY(mu_) = 0;
  int threads_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;
};

}  // namespace agentbudget::meter
