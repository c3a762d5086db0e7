#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/mutex.h"
#include "kube/client.h"

namespace agentbudget::kube {

// Receives what a Reflector learns, on the reflector's thread, one call at a time.
class ReflectorSink {
 public:
  virtual ~ReflectorSink() = default;
  // The complete current set of objects (after a list or relist): anything the sink holds
  // that is not in `items` was deleted meanwhile.
  virtual void Replace(std::vector<nlohmann::json> items) = 0;
  // One change, in resourceVersion order: kAdded, kModified or kDeleted.
  virtual void Apply(EventType type, nlohmann::json object) = 0;
};

struct ReflectorOptions {
  std::string ns;  // "" for all namespaces
  std::string label_selector;
  std::string field_selector;
  int64_t page_size = 500;
  // Each watch asks the server to end it after a random time in [min, 2*min), so that
  // many clients do not reconnect in step (client-go does the same).
  std::chrono::seconds min_watch_timeout{300};
  // Backoff after failures, doubling from initial to max; reset by a successful event.
  std::chrono::milliseconds initial_backoff{800};
  std::chrono::milliseconds max_backoff{30000};
};

// List-then-watch for one resource, as client-go's reflector: lists (paginated), then
// watches from the list's resourceVersion with bookmarks; after a clean end of a watch
// (server timeout) or a dropped connection it resumes from the last resourceVersion seen,
// so no event is lost or repeated; when that version has expired (410 Gone, at the start
// or mid-stream) it relists and hands the sink a full Replace. Failures back off
// exponentially. Run() and Stop() may be called from different threads.
class Reflector {
 public:
  // `client` and `sink` must outlive the reflector.
  Reflector(Client& client, GroupVersionResource gvr, ReflectorOptions options,
            ReflectorSink& sink);

  // Lists and watches on the calling thread until Stop().
  void Run() EXCLUDES(mu_);
  // Makes Run() return soon: cancels the watch in flight and any backoff wait. A list in
  // flight finishes first (bounded by the request timeout). Thread-safe, idempotent.
  void Stop() EXCLUDES(mu_);

  // The resourceVersion the next watch resumes from ("" before the first list).
  std::string last_resource_version() const EXCLUDES(mu_);

 private:
  bool ListOnce() EXCLUDES(mu_);
  // Watches until the stream ends; returns whether to relist.
  bool WatchOnce() EXCLUDES(mu_);
  // Waits the current backoff (interrupted by Stop) and doubles it.
  void Backoff() EXCLUDES(mu_);
  bool stopped() const EXCLUDES(mu_);

  Client& client_;
  const GroupVersionResource gvr_;
  const ReflectorOptions options_;
  ReflectorSink& sink_;

  mutable Mutex mu_;
  CondVar cv_;
  bool stopped_ GUARDED_BY(mu_) = false;
  WatchStream* current_watch_ GUARDED_BY(mu_) = nullptr;
  std::string last_resource_version_ GUARDED_BY(mu_);
  std::chrono::milliseconds backoff_;  // used by the Run() thread only
};

}  // namespace agentbudget::kube
