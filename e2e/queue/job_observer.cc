#include "e2e/queue/job_observer.h"

#include <algorithm>
#include <thread>

namespace agentbudget::e2e {
namespace {

using nlohmann::json;

kube::InformerOptions InNamespace(const std::string& ns) {
  kube::InformerOptions options;
  options.reflector.ns = ns;
  return options;
}

bool Finished(const json& job) {
  const json conditions = job.value("status", json::object()).value("conditions", json::array());
  return std::any_of(conditions.begin(), conditions.end(), [](const json& condition) {
    const std::string type = condition.value("type", "");
    return (type == "Complete" || type == "Failed") && condition.value("status", "") == "True";
  });
}

}  // namespace

JobObserver::JobObserver(kube::Client& client, const std::string& ns)
    : informer_(client, kube::resources::kJobs, InNamespace(ns)) {
  informer_.AddEventHandlers({
      [this](const json& job) { Observe(job); },
      [this](const json&, const json& job) { Observe(job); },
      nullptr,
  });
  informer_.Start();
  informer_.WaitForSync(std::chrono::minutes{1});
}

JobObserver::~JobObserver() { informer_.Stop(); }

void JobObserver::Observe(const json& job) {
  const std::string name = job["metadata"].value("name", "");
  const bool suspended = job.value("spec", json::object()).value("suspend", false);
  MutexLock lock(mu_);
  const auto previous = suspended_.find(name);
  const bool was_suspended = previous != suspended_.end() && previous->second;
  if (was_suspended && !suspended) {
    ++admissions_[name];
    order_.push_back(name);
  }
  if (!was_suspended && suspended && admissions_.contains(name)) {
    resuspended_.insert(name);
  }
  suspended_[name] = suspended;
  if (Finished(job)) {
    completed_.insert(name);
    running_.erase(name);
  } else if (!suspended && admissions_.contains(name)) {
    running_.insert(name);
  } else {
    running_.erase(name);
  }
  max_running_ = std::max(max_running_, static_cast<int>(running_.size()));
}

int JobObserver::max_running() const {
  MutexLock lock(mu_);
  return max_running_;
}

int JobObserver::running() const {
  MutexLock lock(mu_);
  return static_cast<int>(running_.size());
}

std::map<std::string, int> JobObserver::admissions() const {
  MutexLock lock(mu_);
  return admissions_;
}

std::vector<std::string> JobObserver::admission_order() const {
  MutexLock lock(mu_);
  return order_;
}

size_t JobObserver::completed() const {
  MutexLock lock(mu_);
  return completed_.size();
}

bool JobObserver::resuspended(const std::string& name) const {
  MutexLock lock(mu_);
  return resuspended_.contains(name);
}

bool JobObserver::WaitFor(const std::function<bool()>& condition, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
  return true;
}

}  // namespace agentbudget::e2e
