#include "operator/queue/queue_writer.h"

#include "common/log.h"

namespace agentbudget::queue {
namespace {

using nlohmann::json;

// Enough of an object for an Event about it.
json Reference(const QueueObject& item) {
  const bool job = item.kind == QueueObject::Kind::kJob;
  return {{"kind", job ? "Job" : "Pod"},
          {"apiVersion", job ? "batch/v1" : "v1"},
          {"metadata", {{"name", item.name}, {"namespace", item.namespace_name}, {"uid", item.uid}}}};
}

}  // namespace

Status QueueWriter::Patch(const Entry& entry, const json& patch) {
  const QueueObject& item = entry.item;
  const auto& gvr =
      item.kind == QueueObject::Kind::kJob ? kube::resources::kJobs : kube::resources::kPods;
  auto patched =
      client_.Patch(gvr, item.namespace_name, item.name, kube::PatchType::kMerge, patch);
  if (!patched.ok()) {
    if (patched.error().code != ErrorCode::kConflict &&
        patched.error().code != ErrorCode::kNotFound) {
      log::Warn("queue write failed; retrying next pass",
                {{"object", item.key}, {"error", patched.error().ToString()}});
    }
    return std::move(patched).error();
  }
  return OkStatus();
}

Status QueueWriter::Apply(Entry& entry, const json& patch, QueueState state,
                          std::optional<QueueAnnotation> annotation) {
  if (Status patched = Patch(entry, patch); !patched.ok()) {
    return patched;
  }
  cache_.Remember(entry.item, state, annotation);
  entry.item.state = state;
  entry.item.annotation = std::move(annotation);
  return OkStatus();
}

void QueueWriter::Record(const Entry& entry, kube::EventSeverity severity,
                         std::string_view reason, const std::string& message) {
  if (Status recorded = recorder_.Record(Reference(entry.item), severity, reason, message);
      !recorded.ok()) {
    log::Warn("could not record event",
              {{"object", entry.item.key}, {"error", recorded.error().ToString()}});
  }
}

std::string PriorityName(core::WorkPriority priority) {
  switch (priority) {
    case core::WorkPriority::kReleaseBlocking:
      return "ReleaseBlocking";
    case core::WorkPriority::kDeferrable:
      return "Deferrable";
    case core::WorkPriority::kStandard:
      break;
  }
  return "Standard";
}

}  // namespace agentbudget::queue
