#include "kube/controller.h"

#include "common/log.h"

namespace agentbudget::kube {

Controller::Controller(std::string name, ReconcileFunc reconcile, QueueRateLimiter::Options limits)
    : name_(std::move(name)), reconcile_(std::move(reconcile)), queue_(limits) {}

Controller::~Controller() { Stop(); }

void Controller::Start(int workers) {
  MutexLock lock(mu_);
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] { Work(); });
  }
}

void Controller::Stop() {
  std::vector<std::thread> workers;
  {
    MutexLock lock(mu_);
    workers.swap(workers_);
  }
  if (workers.empty()) {
    queue_.ShutDown();
    return;
  }
  queue_.ShutDownWithDrain();
  for (std::thread& worker : workers) {
    worker.join();
  }
}

void Controller::Work() {
  while (std::optional<std::string> key = queue_.Get()) {
    Result<ReconcileResult> result = Internal("reconcile did not run");
    try {
      result = reconcile_(*key);
    } catch (const std::exception& e) {
      result = Internal(std::string("reconcile threw: ") + e.what());
    }
    if (!result.ok()) {
      log::Warn("reconcile failed", {{"controller", name_},
                                     {"key", *key},
                                     {"error", result.error().ToString()},
                                     {"requeues", queue_.NumRequeues(*key)}});
      queue_.AddRateLimited(*key);
    } else if (result->requeue_after.count() > 0) {
      queue_.Forget(*key);
      queue_.AddAfter(*key, result->requeue_after);
    } else if (result->requeue) {
      queue_.AddRateLimited(*key);
    } else {
      queue_.Forget(*key);
    }
    queue_.Done(*key);
  }
}

ResourceEventHandlers EnqueueHandlers(WorkQueue& queue) {
  ResourceEventHandlers handlers;
  handlers.on_add = [&queue](const nlohmann::json& object) { queue.Add(ObjectKey(object)); };
  handlers.on_update = [&queue](const nlohmann::json&, const nlohmann::json& object) {
    queue.Add(ObjectKey(object));
  };
  handlers.on_delete = [&queue](const nlohmann::json& object) { queue.Add(ObjectKey(object)); };
  return handlers;
}

}  // namespace agentbudget::kube
