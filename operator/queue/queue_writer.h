#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "core/budget_decision.h"
#include "kube/client.h"
#include "kube/event_recorder.h"
#include "operator/queue/queue_cache.h"
#include "operator/queue/queue_object.h"

namespace agentbudget::queue {

// How the queue's controllers change governed Jobs and Pods: merge patches through the
// queue's client (its own rate limit), remembered in the cache until the informers reflect
// them, and Events about them. Thread-safe (the client, recorder and cache are).
class QueueWriter {
 public:
  // `client`, `recorder` and `cache` must outlive the writer.
  QueueWriter(kube::Client& client, kube::EventRecorder& recorder, QueueCache& cache)
      : client_(client), recorder_(recorder), cache_(cache) {}

  // Patches `entry`'s object with `patch`. A conflict (a stale cache) or a vanished object
  // fails quietly; the caller retries from a fresher cache. Logs other failures.
  Status Patch(const Entry& entry, const nlohmann::json& patch);
  // Patches, and on success records in `entry` and in the cache that it is now in `state`
  // with `annotation`.
  Status Apply(Entry& entry, const nlohmann::json& patch, QueueState state,
               std::optional<QueueAnnotation> annotation);
  // An Event about `entry`'s object; a failure is logged.
  void Record(const Entry& entry, kube::EventSeverity severity, std::string_view reason,
              const std::string& message);

 private:
  kube::Client& client_;
  kube::EventRecorder& recorder_;
  QueueCache& cache_;
};

// ReleaseBlocking, Standard or Deferrable.
std::string PriorityName(core::WorkPriority priority);

}  // namespace agentbudget::queue
