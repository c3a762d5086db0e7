#include "kube/informer.h"

#include <unordered_set>

#include "common/log.h"

namespace agentbudget::kube {

using nlohmann::json;

void StripManagedFields(json& object) {
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) {
    return;
  }
  json& metadata = object["metadata"];
  metadata.erase("managedFields");
  if (metadata.contains("annotations") && metadata["annotations"].is_object()) {
    metadata["annotations"].erase("kubectl.kubernetes.io/last-applied-configuration");
    if (metadata["annotations"].empty()) {
      metadata.erase("annotations");
    }
  }
}

// Turns what the reflector learns into cache updates and notifications.
class Informer::Sink final : public ReflectorSink {
 public:
  explicit Sink(Informer& informer) : informer_(informer) {}

  void Replace(std::vector<json> items) override {
    std::unordered_set<std::string> seen;
    for (json& item : items) {
      std::string key = ObjectKey(item);
      if (key.empty()) {
        continue;
      }
      seen.insert(key);
      std::string cached_version = informer_.store_.ResourceVersion(key);
      if (!cached_version.empty() && cached_version == ResourceVersionOf(item)) {
        continue;  // unchanged since we last saw it
      }
      Upsert(std::move(item));
    }
    for (const std::string& key : informer_.store_.Keys()) {
      if (seen.count(key) == 0) {
        if (std::optional<json> gone = informer_.store_.Remove(key)) {
          informer_.Enqueue({Notification::Kind::kDelete, std::move(gone), std::nullopt});
        }
      }
    }
    informer_.Enqueue({Notification::Kind::kSynced, std::nullopt, std::nullopt});
  }

  void Apply(EventType type, json object) override {
    std::string key = ObjectKey(object);
    if (key.empty()) {
      log::Warn("watch event without a name ignored", {{"resource", informer_.gvr_.ToString()}});
      return;
    }
    if (type == EventType::kDeleted) {
      if (informer_.store_.Remove(key).has_value()) {
        if (informer_.options_.transform) {
          informer_.options_.transform(object);
        }
        informer_.Enqueue({Notification::Kind::kDelete, std::move(object), std::nullopt});
      }
      return;
    }
    std::string version = ResourceVersionOf(object);
    if (!version.empty() && informer_.store_.ResourceVersion(key) == version) {
      return;  // already cached at this version
    }
    Upsert(std::move(object));
  }

 private:
  void Upsert(json object) {
    if (informer_.options_.transform) {
      informer_.options_.transform(object);
    }
    std::optional<json> previous = informer_.store_.Put(object);
    if (previous.has_value()) {
      informer_.Enqueue({Notification::Kind::kUpdate, std::move(previous), std::move(object)});
    } else {
      informer_.Enqueue({Notification::Kind::kAdd, std::nullopt, std::move(object)});
    }
  }

  Informer& informer_;
};

Informer::Informer(Client& client, GroupVersionResource gvr, InformerOptions options)
    : client_(client), gvr_(std::move(gvr)), options_(std::move(options)) {
  store_.AddIndex(kNamespaceIndex, NamespaceIndexFunc());
}

Informer::~Informer() { Stop(); }

void Informer::AddIndex(const std::string& name, IndexFunc function) {
  store_.AddIndex(name, std::move(function));
}

void Informer::AddEventHandlers(ResourceEventHandlers handlers) {
  handlers_.push_back(std::move(handlers));
}

void Informer::Start() {
  {
    MutexLock lock(mu_);
    started_ = true;
  }
  sink_ = std::make_unique<Sink>(*this);
  reflector_ = std::make_unique<Reflector>(client_, gvr_, options_.reflector, *sink_);
  dispatch_thread_ = std::thread([this] { DispatchLoop(); });
  reflector_thread_ = std::thread([this] { reflector_->Run(); });
}

void Informer::Stop() {
  {
    MutexLock lock(mu_);
    if (!started_ || stopping_) {
      return;
    }
    stopping_ = true;
    cv_.SignalAll();
  }
  reflector_->Stop();
  reflector_thread_.join();
  dispatch_thread_.join();
}

bool Informer::HasSynced() const {
  MutexLock lock(mu_);
  return synced_;
}

bool Informer::WaitForSync(std::chrono::milliseconds timeout) const {
  MutexLock lock(mu_);
  return cv_.WaitFor(mu_, timeout, [this]() REQUIRES(mu_) { return synced_ || stopping_; }) &&
         synced_;
}

void Informer::Enqueue(Notification notification) {
  MutexLock lock(mu_);
  pending_.push_back(std::move(notification));
  cv_.SignalAll();
}

void Informer::DispatchLoop() {
  auto next_resync = std::chrono::steady_clock::now() + options_.resync_period;
  while (true) {
    Notification notification;
    bool resync = false;
    {
      MutexLock lock(mu_);
      auto ready = [this]() REQUIRES(mu_) { return stopping_ || !pending_.empty(); };
      if (options_.resync_period.count() > 0) {
        cv_.WaitUntil(mu_, next_resync, ready);
      } else {
        cv_.Wait(mu_, ready);
      }
      if (stopping_) {
        return;
      }
      auto now = std::chrono::steady_clock::now();
      if (options_.resync_period.count() > 0 && now >= next_resync) {
        next_resync = now + options_.resync_period;
        // Only once synced, so a resync never races the initial list's adds.
        resync = synced_;
      }
      if (!resync) {
        if (pending_.empty()) {
          continue;
        }
        notification = std::move(pending_.front());
        pending_.pop_front();
      }
    }
    if (resync) {
      for (json& object : store_.List()) {
        Enqueue({Notification::Kind::kUpdate, object, object});
      }
      continue;
    }
    Dispatch(notification);
  }
}

void Informer::Dispatch(const Notification& notification) {
  if (notification.kind == Notification::Kind::kSynced) {
    MutexLock lock(mu_);
    synced_ = true;
    cv_.SignalAll();
    return;
  }
  for (const ResourceEventHandlers& handlers : handlers_) {
    try {
      switch (notification.kind) {
        case Notification::Kind::kAdd:
          if (handlers.on_add) {
            handlers.on_add(*notification.new_object);
          }
          break;
        case Notification::Kind::kUpdate:
          if (handlers.on_update) {
            handlers.on_update(*notification.old_object, *notification.new_object);
          }
          break;
        case Notification::Kind::kDelete:
          if (handlers.on_delete) {
            handlers.on_delete(*notification.old_object);
          }
          break;
        case Notification::Kind::kSynced:
          break;
      }
    } catch (const std::exception& e) {
      // A handler's bug must not stop the informer.
      log::Error("informer handler threw", {{"resource", gvr_.ToString()}, {"error", e.what()}});
    }
  }
}

}  // namespace agentbudget::kube
