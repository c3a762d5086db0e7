#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/mutex.h"
#include "kube/client.h"

namespace agentbudget::kube {

enum class EventSeverity { kNormal, kWarning };

// Writes core/v1 Events about objects, as client-go's recorder: an event repeated for the
// same object (same type, reason and message) increments `count` and `lastTimestamp` of
// the existing Event instead of creating another. Thread-safe. Calls block for one or two
// API requests; callers usually log a failure and carry on.
class EventRecorder {
 public:
  // Remembers at most this many distinct events for aggregation (oldest forgotten first).
  static constexpr std::size_t kMaxRemembered = 4096;

  // `component` is the reporting component ("agentbudget-operator"); `instance` the
  // reporting instance (pod name). `client` and `clock` must outlive the recorder.
  EventRecorder(Client& client, std::string component, std::string instance,
                const Clock& clock = SystemClock::Instance());

  // Records an event about `object`, which needs kind, apiVersion and metadata.name (uid
  // and namespace when it has them). Events about cluster-scoped objects go to "default".
  // Fails with kInvalidArgument for an object without kind or name, or with the API error.
  Status Record(const nlohmann::json& object, EventSeverity severity, std::string_view reason,
                std::string_view message) EXCLUDES(mu_);

 private:
  struct Seen {
    std::string ns;
    std::string name;
    int64_t count = 0;
    uint64_t sequence = 0;  // for forgetting the oldest
  };

  Client& client_;
  const std::string component_;
  const std::string instance_;
  const Clock& clock_;
  Mutex mu_;  // serialises recording, so a repeat never races its own create
  std::unordered_map<std::string, Seen> seen_ GUARDED_BY(mu_);
  uint64_t sequence_ GUARDED_BY(mu_) = 0;
};

}  // namespace agentbudget::kube
