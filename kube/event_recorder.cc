#include "kube/event_recorder.h"

#include <algorithm>
#include <cstdio>

#include "kube/timestamps.h"

namespace agentbudget::kube {

using nlohmann::json;

EventRecorder::EventRecorder(Client& client, std::string component, std::string instance,
                             const Clock& clock)
    : client_(client),
      component_(std::move(component)),
      instance_(std::move(instance)),
      clock_(clock) {}

Status EventRecorder::Record(const json& object, EventSeverity severity, std::string_view reason,
                             std::string_view message) {
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) {
    return InvalidArgument("event about an object without metadata");
  }
  const json& metadata = object["metadata"];
  std::string kind = object.value("kind", "");
  std::string name = metadata.value("name", "");
  if (kind.empty() || name.empty()) {
    return InvalidArgument("event about an object without kind or name");
  }
  std::string object_ns = metadata.value("namespace", "");
  std::string uid = metadata.value("uid", "");
  std::string type = severity == EventSeverity::kWarning ? "Warning" : "Normal";
  std::string ns = object_ns.empty() ? "default" : object_ns;
  auto now = clock_.Now();
  std::string timestamp = FormatTime(now);
  std::string key = uid + '\x1f' + kind + '\x1f' + object_ns + '\x1f' + name + '\x1f' + type +
                    '\x1f' + std::string(reason) + '\x1f' + std::string(message);

  MutexLock lock(mu_);
  if (auto it = seen_.find(key); it != seen_.end()) {
    json patch = {{"count", it->second.count + 1}, {"lastTimestamp", timestamp}};
    Result<json> patched = client_.Patch(resources::kEvents, it->second.ns, it->second.name,
                                         PatchType::kMerge, patch);
    if (patched.ok()) {
      it->second.count += 1;
      it->second.sequence = ++sequence_;
      return OkStatus();
    }
    if (patched.error().code != ErrorCode::kNotFound) {
      return std::move(patched).error();
    }
    seen_.erase(it);  // the Event expired on the server: start a new one
  }

  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".%llx",
                static_cast<unsigned long long>(
                    std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch())
                        .count()));
  std::string event_name = name + suffix;
  json involved = {{"kind", kind}, {"name", name}, {"apiVersion", object.value("apiVersion", "")}};
  if (!object_ns.empty()) {
    involved["namespace"] = object_ns;
  }
  if (!uid.empty()) {
    involved["uid"] = uid;
  }
  if (metadata.contains("resourceVersion")) {
    involved["resourceVersion"] = metadata["resourceVersion"];
  }
  json event = {{"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata", {{"name", event_name}, {"namespace", ns}}},
                {"involvedObject", involved},
                {"reason", reason},
                {"message", message},
                {"type", type},
                {"count", 1},
                {"firstTimestamp", timestamp},
                {"lastTimestamp", timestamp},
                {"source", {{"component", component_}, {"host", instance_}}},
                {"reportingComponent", component_},
                {"reportingInstance", instance_}};
  Result<json> created = client_.Create(resources::kEvents, ns, event);
  if (!created.ok()) {
    return std::move(created).error();
  }
  if (seen_.size() >= kMaxRemembered) {
    auto oldest = std::min_element(seen_.begin(), seen_.end(), [](const auto& a, const auto& b) {
      return a.second.sequence < b.second.sequence;
    });
    seen_.erase(oldest);
  }
  seen_[key] = Seen{ns, event_name, 1, ++sequence_};
  return OkStatus();
}

}  // namespace agentbudget::kube
