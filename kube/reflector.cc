#include "kube/reflector.h"

#include <random>

#include "common/log.h"

namespace agentbudget::kube {

using nlohmann::json;

Reflector::Reflector(Client& client, GroupVersionResource gvr, ReflectorOptions options,
                     ReflectorSink& sink)
    : client_(client),
      gvr_(std::move(gvr)),
      options_(std::move(options)),
      sink_(sink),
      backoff_(options_.initial_backoff) {}

bool Reflector::stopped() const {
  MutexLock lock(mu_);
  return stopped_;
}

std::string Reflector::last_resource_version() const {
  MutexLock lock(mu_);
  return last_resource_version_;
}

void Reflector::Stop() {
  MutexLock lock(mu_);
  stopped_ = true;
  if (current_watch_ != nullptr) {
    current_watch_->Cancel();
  }
  cv_.SignalAll();
}

void Reflector::Backoff() {
  MutexLock lock(mu_);
  cv_.WaitFor(mu_, backoff_, [this]() REQUIRES(mu_) { return stopped_; });
  backoff_ = std::min(backoff_ * 2, options_.max_backoff);
}

void Reflector::Run() {
  bool need_list = true;
  while (!stopped()) {
    if (need_list) {
      if (!ListOnce()) {
        Backoff();
        continue;
      }
      need_list = false;
    }
    need_list = WatchOnce();
  }
}

bool Reflector::ListOnce() {
  ListOptions list_options;
  list_options.label_selector = options_.label_selector;
  list_options.field_selector = options_.field_selector;
  Result<ObjectList> list = client_.ListAll(gvr_, options_.ns, list_options, options_.page_size);
  if (!list.ok()) {
    log::Warn("list failed", {{"resource", gvr_.ToString()},
                              {"error", list.error().ToString()}});
    return false;
  }
  std::string version = list->resource_version;
  sink_.Replace(std::move(list->items));
  MutexLock lock(mu_);
  last_resource_version_ = std::move(version);
  return true;
}

bool Reflector::WatchOnce() {
  static thread_local std::mt19937 random{std::random_device{}()};
  WatchOptions watch_options;
  watch_options.label_selector = options_.label_selector;
  watch_options.field_selector = options_.field_selector;
  watch_options.resource_version = last_resource_version();
  watch_options.allow_bookmarks = true;
  auto min = options_.min_watch_timeout.count();
  watch_options.timeout =
      std::chrono::seconds(min + std::uniform_int_distribution<int64_t>(0, min > 0 ? min - 1 : 0)(random));

  Result<std::unique_ptr<WatchStream>> watch = client_.Watch(gvr_, options_.ns, watch_options);
  if (!watch.ok()) {
    if (watch.error().code == ErrorCode::kGone) {
      log::Info("watch position expired; relisting", {{"resource", gvr_.ToString()}});
      return true;
    }
    log::Warn("watch failed", {{"resource", gvr_.ToString()},
                               {"error", watch.error().ToString()}});
    Backoff();
    return false;
  }
  std::unique_ptr<WatchStream> stream = std::move(watch).value();
  {
    MutexLock lock(mu_);
    if (stopped_) {
      return false;
    }
    current_watch_ = stream.get();
  }
  bool relist = false;
  bool failed = false;
  int events = 0;
  auto started = std::chrono::steady_clock::now();
  while (true) {
    Result<std::optional<WatchEvent>> next = stream->Next();
    if (!next.ok()) {
      if (!stopped()) {
        log::Info("watch interrupted; resuming", {{"resource", gvr_.ToString()},
                                                  {"error", next.error().ToString()}});
        failed = true;
      }
      break;
    }
    if (!next->has_value()) {
      // The server's timeout: resume at once, unless the watch ended at once with nothing
      // in it, which would otherwise turn into a tight reconnect loop.
      failed = events == 0 && std::chrono::steady_clock::now() - started < std::chrono::seconds(1);
      break;
    }
    ++events;
    WatchEvent& event = **next;
    if (event.type == EventType::kError) {
      int code = event.object.value("code", 0);
      if (code == 410) {
        log::Info("watch position expired mid-stream; relisting", {{"resource", gvr_.ToString()}});
        relist = true;
      } else {
        log::Warn("watch error event", {{"resource", gvr_.ToString()},
                                        {"status", event.object}});
        failed = true;
      }
      break;
    }
    std::string version = ResourceVersionOf(event.object);
    if (event.type != EventType::kBookmark) {
      sink_.Apply(event.type, std::move(event.object));
    }
    backoff_ = options_.initial_backoff;
    MutexLock lock(mu_);
    if (!version.empty()) {
      last_resource_version_ = std::move(version);
    }
  }
  {
    MutexLock lock(mu_);
    current_watch_ = nullptr;
  }
  if (failed && !stopped()) {
    Backoff();
  }
  return relist;
}

}  // namespace agentbudget::kube
