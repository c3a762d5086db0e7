#include "kube/manager.h"

#include <cstdlib>

#include "common/log.h"

namespace agentbudget::kube {

namespace {

// What identifies a shared informer: the resource, and which of its objects it holds.
std::string InformerName(const GroupVersionResource& gvr, const ReflectorOptions& reflector) {
  std::string name = gvr.ToString();
  std::string query;
  for (const auto& [key, value] : {std::pair{"namespace", &reflector.ns},
                                   std::pair{"labelSelector", &reflector.label_selector},
                                   std::pair{"fieldSelector", &reflector.field_selector}}) {
    if (!value->empty()) {
      query += (query.empty() ? "?" : "&") + std::string(key) + "=" + *value;
    }
  }
  return name + query;
}

ResourceEventHandlers MappedHandlers(WorkQueue& queue, MapFunc map) {
  auto enqueue = [&queue, map = std::move(map)](const nlohmann::json& object) {
    for (const std::string& key : map(object)) {
      if (!key.empty()) {
        queue.Add(key);
      }
    }
  };
  ResourceEventHandlers handlers;
  handlers.on_add = enqueue;
  handlers.on_update = [enqueue](const nlohmann::json& old_object, const nlohmann::json& object) {
    enqueue(old_object);
    enqueue(object);
  };
  handlers.on_delete = enqueue;
  return handlers;
}

}  // namespace

Manager::Manager(Client& client, ManagerOptions options)
    : client_(client), options_(std::move(options)) {}

Manager::~Manager() { Stop(); }

Informer& Manager::GetInformer(const GroupVersionResource& gvr, InformerOptions options) {
  const std::string name = InformerName(gvr, options.reflector);
  MutexLock lock(mu_);
  auto& informer = informers_[name];
  if (informer == nullptr) {
    informer = std::make_unique<Informer>(client_, gvr, std::move(options));
    informer_order_.push_back(name);
  }
  return *informer;
}

Controller& Manager::AddController(std::string name, Scope scope, int workers,
                                   ReconcileFunc reconcile, QueueRateLimiter::Options limits) {
  MutexLock lock(mu_);
  controllers_.push_back(
      {std::make_unique<Controller>(std::move(name), std::move(reconcile), limits), scope,
       workers});
  return *controllers_.back().controller;
}

void Manager::Watch(Controller& controller, Informer& informer, MapFunc map) {
  informer.AddEventHandlers(map ? MappedHandlers(controller.queue(), std::move(map))
                                : EnqueueHandlers(controller.queue()));
}

void Manager::AddLeaderSetup(std::string name, SetupFunc setup) {
  MutexLock lock(mu_);
  setups_.emplace_back(std::move(name), std::move(setup));
}

void Manager::AddRunnable(std::string name, Scope scope, RunFunc run) {
  MutexLock lock(mu_);
  work_.push_back({std::move(name), scope, std::move(run)});
}

void Manager::AddPeriodic(std::string name, Scope scope, PeriodicFunc step) {
  AddRunnable(std::move(name), scope, [step = std::move(step)](const StopSignal& stop) {
    while (!stop.WaitFor(step())) {
    }
  });
}

void Manager::Start() {
  std::vector<std::string> names;
  {
    MutexLock lock(mu_);
    started_ = true;
    for (const std::string& name : informer_order_) {
      informers_.at(name)->Start();
    }
    names = informer_order_;
  }
  log::Info("manager starting", {{"informers", names.size()}});
  for (const std::string& name : names) {
    log::Info("list and watch", {{"resource", name}});
  }
  if (options_.leader_election) {
    LeaderCallbacks callbacks;
    callbacks.on_started_leading = [this] {
      log::Info("became the leader");
      MutexLock lock(mu_);
      elected_ = true;
      cv_.SignalAll();
    };
    callbacks.on_stopped_leading = [this] { OnStoppedLeading(); };
    elector_ = std::make_unique<LeaderElector>(client_, *options_.leader_election, callbacks);
    election_thread_ = std::thread([this] {
      if (Status run = elector_->Run(); !run.ok() && run.error().code != ErrorCode::kUnavailable) {
        log::Error("leader election failed", {{"error", run.error().ToString()}});
      }
    });
  } else {
    MutexLock lock(mu_);
    elected_ = true;
  }
  thread_ = std::thread([this] { Run(); });
}

void Manager::OnStoppedLeading() {
  {
    MutexLock lock(mu_);
    if (stopping_) {
      return;
    }
  }
  if (options_.on_lost_leadership) {
    options_.on_lost_leadership();
    return;
  }
  // Another replica may lead now: stop acting at once, as client-go does.
  log::Error("lost leadership; exiting");
  std::_Exit(1);
}

void Manager::Run() {
  if (!WaitForCaches()) {
    return;
  }
  StartScope(Scope::kEveryReplica);
  if (!WaitForLeadership()) {
    return;
  }
  std::vector<std::pair<std::string, SetupFunc>> setups;
  {
    MutexLock lock(mu_);
    setups = setups_;
  }
  for (const auto& [name, setup] : setups) {
    while (true) {
      Status done = setup();
      if (done.ok()) {
        break;
      }
      log::Warn("leader setup failed; retrying", {{"setup", name}, {"error", done.error().ToString()}});
      if (stop_.WaitFor(options_.setup_retry)) {
        return;
      }
    }
  }
  StartScope(Scope::kLeader);
}

bool Manager::WaitForCaches() {
  std::vector<Informer*> informers;
  {
    MutexLock lock(mu_);
    for (const auto& [name, informer] : informers_) {
      informers.push_back(informer.get());
    }
  }
  for (Informer* informer : informers) {
    // WaitForSync returns early when the informer stops, which Stop() does after stop_.
    while (!informer->WaitForSync(std::chrono::seconds{1})) {
      if (stop_.stopped()) {
        return false;
      }
    }
  }
  return !stop_.stopped();
}

bool Manager::WaitForLeadership() {
  MutexLock lock(mu_);
  cv_.Wait(mu_, [this] {
    mu_.AssertHeld();
    return elected_ || stopping_;
  });
  return !stopping_;
}

void Manager::StartScope(Scope scope) {
  MutexLock lock(mu_);
  if (stopping_) {
    return;
  }
  for (ControllerEntry& entry : controllers_) {
    if (entry.scope == scope) {
      entry.controller->Start(entry.workers);
    }
  }
  for (const Work& work : work_) {
    if (work.scope == scope) {
      work_threads_.emplace_back([this, &work] {
        try {
          work.run(stop_);
        } catch (const std::exception& e) {
          log::Error("runnable threw", {{"runnable", work.name}, {"error", e.what()}});
        }
      });
    }
  }
  if (scope == Scope::kLeader) {
    leading_ = true;
  } else {
    replica_started_ = true;
  }
  cv_.SignalAll();
}

void Manager::Stop() {
  {
    MutexLock lock(mu_);
    if (!started_ || stopping_) {
      stopping_ = true;
      return;
    }
    stopping_ = true;
    cv_.SignalAll();
  }
  stop_.Stop();
  if (thread_.joinable()) {
    thread_.join();
  }
  // Fixed from here on: nothing starts after the manager's thread ended.
  std::vector<Controller*> controllers;
  std::vector<std::thread> threads;
  std::vector<Informer*> informers;
  {
    MutexLock lock(mu_);
    for (ControllerEntry& entry : controllers_) {
      controllers.push_back(entry.controller.get());
    }
    threads.swap(work_threads_);
    for (const auto& [name, informer] : informers_) {
      informers.push_back(informer.get());
    }
  }
  for (Controller* controller : controllers) {
    controller->Stop();
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  if (elector_ != nullptr) {
    elector_->Stop();
  }
  if (election_thread_.joinable()) {
    election_thread_.join();
  }
  for (Informer* informer : informers) {
    informer->Stop();
  }
}

bool Manager::IsLeader() const {
  MutexLock lock(mu_);
  return leading_;
}

bool Manager::IsElected() const {
  MutexLock lock(mu_);
  return elected_;
}

bool Manager::WaitStarted(std::chrono::milliseconds timeout) const {
  MutexLock lock(mu_);
  return cv_.WaitFor(mu_, timeout, [this] {
    mu_.AssertHeld();
    return replica_started_ || stopping_;
  }) && replica_started_;
}

std::vector<std::string> Manager::InformerNames() const {
  MutexLock lock(mu_);
  return informer_order_;
}

}  // namespace agentbudget::kube
