#include "kube/work_queue.h"

namespace agentbudget::kube {

WorkQueue::WorkQueue(QueueRateLimiter::Options limits, const Clock& clock)
    : limiter_(limits, clock) {
  delay_thread_ = std::thread([this] { DelayLoop(); });
}

WorkQueue::~WorkQueue() {
  ShutDown();
  delay_thread_.join();
}

void WorkQueue::Add(const std::string& key) {
  MutexLock lock(mu_);
  if (shutting_down_ || dirty_.count(key) > 0) {
    return;
  }
  dirty_.insert(key);
  if (processing_.count(key) > 0) {
    return;  // handed out again by Done()
  }
  queue_.push_back(key);
  cv_.SignalAll();
}

void WorkQueue::AddAfter(const std::string& key, std::chrono::nanoseconds delay) {
  if (delay.count() <= 0) {
    Add(key);
    return;
  }
  auto due = std::chrono::steady_clock::now() +
             std::chrono::duration_cast<std::chrono::steady_clock::duration>(delay);
  MutexLock lock(mu_);
  if (shutting_down_) {
    return;
  }
  auto existing = waiting_at_.find(key);
  if (existing != waiting_at_.end()) {
    if (existing->second <= due) {
      return;
    }
    auto range = waiting_.equal_range(existing->second);
    for (auto it = range.first; it != range.second; ++it) {
      if (it->second == key) {
        waiting_.erase(it);
        break;
      }
    }
  }
  waiting_at_[key] = due;
  waiting_.emplace(due, key);
  cv_.SignalAll();
}

void WorkQueue::AddRateLimited(const std::string& key) { AddAfter(key, limiter_.When(key)); }

void WorkQueue::Forget(const std::string& key) { limiter_.Forget(key); }

int WorkQueue::NumRequeues(const std::string& key) const { return limiter_.NumRequeues(key); }

std::optional<std::string> WorkQueue::Get() {
  MutexLock lock(mu_);
  cv_.Wait(mu_, [this]() REQUIRES(mu_) { return !queue_.empty() || shutting_down_; });
  if (queue_.empty()) {
    return std::nullopt;
  }
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  return key;
}

void WorkQueue::Done(const std::string& key) {
  MutexLock lock(mu_);
  processing_.erase(key);
  if (dirty_.count(key) > 0) {
    queue_.push_back(key);
  }
  cv_.SignalAll();
}

void WorkQueue::ShutDown() {
  MutexLock lock(mu_);
  shutting_down_ = true;
  waiting_.clear();
  waiting_at_.clear();
  cv_.SignalAll();
}

void WorkQueue::ShutDownWithDrain() {
  MutexLock lock(mu_);
  shutting_down_ = true;
  waiting_.clear();
  waiting_at_.clear();
  cv_.SignalAll();
  cv_.Wait(mu_, [this]() REQUIRES(mu_) { return queue_.empty() && processing_.empty(); });
}

bool WorkQueue::shutting_down() const {
  MutexLock lock(mu_);
  return shutting_down_;
}

std::size_t WorkQueue::Len() const {
  MutexLock lock(mu_);
  return queue_.size();
}

void WorkQueue::DelayLoop() {
  MutexLock lock(mu_);
  while (!shutting_down_) {
    if (waiting_.empty()) {
      cv_.Wait(mu_);
      continue;
    }
    auto due = waiting_.begin()->first;
    if (std::chrono::steady_clock::now() < due) {
      cv_.WaitUntil(mu_, due);
      continue;
    }
    std::string key = std::move(waiting_.begin()->second);
    waiting_.erase(waiting_.begin());
    waiting_at_.erase(key);
    if (dirty_.count(key) == 0) {
      dirty_.insert(key);
      if (processing_.count(key) == 0) {
        queue_.push_back(key);
      }
      cv_.SignalAll();
    }
  }
}

}  // namespace agentbudget::kube
