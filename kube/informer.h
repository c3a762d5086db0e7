#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/mutex.h"
#include "kube/client.h"
#include "kube/reflector.h"
#include "kube/store.h"

namespace agentbudget::kube {

// Rewrites an object before it is cached and handed to handlers.
using ObjectTransform = std::function<void(nlohmann::json& object)>;

// The default transform: drops metadata.managedFields and the
// kubectl.kubernetes.io/last-applied-configuration annotation, which controllers do not
// read and which are often half of an object's size.
void StripManagedFields(nlohmann::json& object);

// Callbacks for changes; any may be empty. They run on the informer's dispatch thread, one
// at a time, in the order the changes happened; a slow handler delays later callbacks but
// never the watch. Objects are the transformed, cached versions.
struct ResourceEventHandlers {
  std::function<void(const nlohmann::json& object)> on_add;
  std::function<void(const nlohmann::json& old_object, const nlohmann::json& new_object)>
      on_update;
  // `last_known` is the final state when the deletion was watched, or the last cached
  // state when it was found by a relist.
  std::function<void(const nlohmann::json& last_known)> on_delete;
};

struct InformerOptions {
  ReflectorOptions reflector;  // namespace, selectors, watch timeout, backoff
  // Every period, on_update(o, o) for every cached object (level-based controllers use it
  // to re-check the world). Zero: never.
  std::chrono::milliseconds resync_period{0};
  ObjectTransform transform = StripManagedFields;
};

// A cache of one resource kept current by list+watch, with indexes and change handlers,
// as client-go's shared informer. Two threads: the reflector (network) and the dispatcher
// (handlers). Handlers see every change exactly once across reconnects: a resumed watch
// continues after the last version seen; a relist is diffed against the cache (unchanged
// objects produce nothing, vanished ones produce on_delete).
// Thread-safe after Start(); AddIndex/AddEventHandlers before Start().
class Informer {
 public:
  // `client` must outlive the informer.
  Informer(Client& client, GroupVersionResource gvr, InformerOptions options = {});
  // Stops the threads.
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // REQUIRES: not started.
  void AddIndex(const std::string& name, IndexFunc function);
  // REQUIRES: not started.
  void AddEventHandlers(ResourceEventHandlers handlers);

  // Starts listing and watching. REQUIRES: not started.
  void Start() EXCLUDES(mu_);
  // Stops watching and dispatching and joins both threads; notifications not yet
  // dispatched are dropped. Idempotent.
  void Stop() EXCLUDES(mu_);

  // True once the first list is in the cache and its on_add calls have returned.
  bool HasSynced() const EXCLUDES(mu_);
  // Waits (without polling) until HasSynced() or the timeout; returns HasSynced().
  bool WaitForSync(std::chrono::milliseconds timeout) const EXCLUDES(mu_);

  // The cache: read it freely (Get, List, ByIndex). It is current up to the last change
  // received, which may be ahead of the handlers.
  const Store& store() const { return store_; }

 private:
  class Sink;
  struct Notification {
    enum class Kind { kAdd, kUpdate, kDelete, kSynced };
    Kind kind = Kind::kAdd;
    std::optional<nlohmann::json> old_object;
    std::optional<nlohmann::json> new_object;
  };

  void Enqueue(Notification notification) EXCLUDES(mu_);
  void DispatchLoop() EXCLUDES(mu_);
  void Dispatch(const Notification& notification) EXCLUDES(mu_);

  Client& client_;
  const GroupVersionResource gvr_;
  const InformerOptions options_;
  Store store_;
  std::vector<ResourceEventHandlers> handlers_;  // fixed after Start()
  std::unique_ptr<Sink> sink_;
  std::unique_ptr<Reflector> reflector_;

  mutable Mutex mu_;
  mutable CondVar cv_;
  std::deque<Notification> pending_ GUARDED_BY(mu_);
  bool synced_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool started_ GUARDED_BY(mu_) = false;
  std::thread reflector_thread_;
  std::thread dispatch_thread_;
};

}  // namespace agentbudget::kube
