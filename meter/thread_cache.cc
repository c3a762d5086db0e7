#include "meter/thread_cache.h"

#include <thread>

namespace agentbudget::meter {

ThreadCache::ThreadCache(std::chrono::milliseconds idle_limit) : idle_limit_(idle_limit) {}

ThreadCache::~ThreadCache() {
  std::unique_lock<std::mutex> lock(mu_);
  stopping_ = true;
  work_.notify_all();
  finished_.wait(lock, [this] { return threads_ == 0; });
}

void ThreadCache::Run(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Each queued task is promised to an idle thread: queue only while some are unclaimed.
    if (static_cast<size_t>(idle_) > queue_.size()) {
      queue_.push_back(std::move(task));
      work_.notify_one();
      return;
    }
    ++threads_;
  }
  std::thread(&ThreadCache::Loop, this, std::move(task)).detach();
}

int ThreadCache::Threads() {
  std::lock_guard<std::mutex> lock(mu_);
  return threads_;
}

int ThreadCache::IdleThreads() {
  std::lock_guard<std::mutex> lock(mu_);
  return idle_;
}

void ThreadCache::Loop(std::function<void()> task) {
  while (true) {
    task();
    std::unique_lock<std::mutex> lock(mu_);
    ++idle_;
    work_.wait_for(lock, idle_limit_, [this] { return stopping_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) {
      // Idle too long, or stopping: the last touch of *this is releasing the lock.
      --threads_;
      finished_.notify_all();
      return;
    }
    task = std::move(queue_.front());
    queue_.pop_front();
  }
}

}  // namespace agentbudget::meter
