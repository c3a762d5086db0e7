#include "meter/thread_cache.h"

#include <thread>

namespace agentbudget::meter {

ThreadCache::ThreadCache(std::chrono::milliseconds idle_limit) : idle_limit_(idle_limit) {}

ThreadCache::~ThreadCache() {
  MutexLock lock(mu_);
  stopping_ = true;
  work_.SignalAll();
  finished_.Wait(mu_, [this]() REQUIRES(mu_) { return threads_ == 0; });
}

void ThreadCache::Run(std::function<void()> task) {
  {
    MutexLock lock(mu_);
    // Each queued task is promised to an idle thread: queue only while some are unclaimed.
    if (static_cast<size_t>(idle_) > queue_.size()) {
      queue_.push_back(std::move(task));
      work_.Signal();
      return;
    }
    ++threads_;
  }
  std::thread(&ThreadCache::Loop, this, std::move(task)).detach();
}

int ThreadCache::Threads() {
  MutexLock lock(mu_);
  return threads_;
}

int ThreadCache::IdleThreads() {
  MutexLock lock(mu_);
  return idle_;
}

void ThreadCache::Loop(std::function<void()> task) {
  while (true) {
    task();
    MutexLock lock(mu_);
    ++idle_;
    work_.WaitFor(mu_, idle_limit_,
                  [this]() REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) {
      // Idle too long, or stopping: the last touch of *this is releasing the lock.
      --threads_;
      finished_.SignalAll();
      return;
    }
    task = std::move(queue_.front());
    queue_.pop_front();
  }
}

}  // namespace agentbudget::meter
