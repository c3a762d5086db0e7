#include "operator/queue/queue_object.h"

#include <algorithm>

#include "core/time_format.h"
#include "api/v1alpha1/agent_workload.h"
#include "core/json_field.h"

namespace agentbudget::queue {
namespace {

using nlohmann::json;

const json& At(const json& object, const char* pointer) {
  static const json kNull;
  const json::json_pointer path(pointer);
  return object.is_object() && object.contains(path) ? object.at(path) : kNull;
}

std::string StringAt(const json& object, const char* pointer) {
  const json& value = At(object, pointer);
  return value.is_string() ? value.get<std::string>() : std::string();
}

bool HasTrueCondition(const json& object, const char* type) {
  const json& conditions = At(object, "/status/conditions");
  if (!conditions.is_array()) {
    return false;
  }
  return std::any_of(conditions.begin(), conditions.end(), [&](const json& condition) {
    return core::StringField(condition, "type") == type &&
           core::StringField(condition, "status") == "True";
  });
}

bool HasAdmissionGate(const json& object) {
  const json& gates = At(object, "/spec/schedulingGates");
  if (!gates.is_array()) {
    return false;
  }
  return std::any_of(gates.begin(), gates.end(), [](const json& gate) {
    return core::StringField(gate, "name") == v1alpha1::keys::kSchedulingGate;
  });
}

bool OwnedByJob(const json& object) {
  const json& owners = At(object, "/metadata/ownerReferences");
  if (!owners.is_array()) {
    return false;
  }
  return std::any_of(owners.begin(), owners.end(), [](const json& owner) {
    return core::StringField(owner, "kind") == "Job";
  });
}

bool Suspended(const json& job) {
  const json& suspend = At(job, "/spec/suspend");
  return suspend.is_boolean() && suspend.get<bool>();
}

QueueState JobState(const json& object, const QueueObject& item, bool* succeeded) {
  if (!item.annotation) {
    return QueueState::kUngoverned;
  }
  if (item.annotation->state == "Finished") {
    *succeeded = item.annotation->outcome == "Succeeded";
    return QueueState::kRecorded;
  }
  if (HasTrueCondition(object, "Complete") || HasTrueCondition(object, "Failed")) {
    *succeeded = HasTrueCondition(object, "Complete");
    return QueueState::kFinished;
  }
  const bool suspended = Suspended(object);
  if (item.annotation->state == "Pending") {
    return suspended ? QueueState::kHeld : QueueState::kUngoverned;
  }
  // Admitted: a Job someone else suspended again is neither running nor ours to resume.
  return suspended ? QueueState::kUngoverned : QueueState::kRunning;
}

QueueState PodState(const json& object, const QueueObject& item, bool* succeeded) {
  if (OwnedByJob(object)) {
    return QueueState::kUngoverned;  // counted through its Job
  }
  if (HasAdmissionGate(object)) {
    return QueueState::kHeld;
  }
  if (!item.annotation) {
    return QueueState::kUngoverned;
  }
  if (item.annotation->state == "Finished") {
    *succeeded = item.annotation->outcome == "Succeeded";
    return QueueState::kRecorded;
  }
  if (item.annotation->state != "Admitted") {
    return QueueState::kUngoverned;
  }
  const std::string phase = StringAt(object, "/status/phase");
  if (phase == "Succeeded" || phase == "Failed") {
    *succeeded = phase == "Succeeded";
    return QueueState::kFinished;
  }
  return QueueState::kRunning;
}

}  // namespace

bool RunsWithoutAdmission(const json& job) {
  if (!job.is_object() || Suspended(job) || HasTrueCondition(job, "Complete") ||
      HasTrueCondition(job, "Failed")) {
    return false;
  }
  const core::Labels annotations = v1alpha1::LabelsOf(job, "annotations");
  const auto queue = annotations.find(v1alpha1::keys::kQueue);
  if (queue == annotations.end()) {
    return true;
  }
  const std::optional<QueueAnnotation> annotation = DecodeQueueAnnotation(queue->second);
  return !annotation || annotation->state != "Admitted";
}

bool RunsWithoutMeter(const json& pod) {
  if (StringAt(pod, "/status/phase") != "Running" ||
      At(pod, "/metadata/annotations/kubernetes.io~1config.mirror").is_string()) {
    return false;
  }
  const json& init = At(pod, "/spec/initContainers");
  if (!init.is_array()) {
    return true;
  }
  return std::none_of(init.begin(), init.end(), [](const json& container) {
    return core::StringField(container, "name") == v1alpha1::keys::kMeterContainer;
  });
}

QueueAnnotation QueueAnnotation::Pending(std::string reason, int64_t position,
                                         std::string message) {
  QueueAnnotation annotation;
  annotation.state = "Pending";
  annotation.reason = std::move(reason);
  annotation.position = position;
  annotation.message = std::move(message);
  return annotation;
}

QueueAnnotation QueueAnnotation::Admitted() {
  QueueAnnotation annotation;
  annotation.state = "Admitted";
  return annotation;
}

QueueAnnotation QueueAnnotation::Finished(bool succeeded) {
  QueueAnnotation annotation;
  annotation.state = "Finished";
  annotation.outcome = succeeded ? "Succeeded" : "Failed";
  return annotation;
}

std::string QueueAnnotation::Encode() const {
  json encoded = {{"state", state}};
  if (!reason.empty()) {
    encoded["reason"] = reason;
  }
  if (position > 0) {
    encoded["position"] = position;
  }
  if (!message.empty()) {
    encoded["message"] = message;
  }
  if (!outcome.empty()) {
    encoded["outcome"] = outcome;
  }
  return encoded.dump();
}

std::optional<QueueAnnotation> DecodeQueueAnnotation(const std::string& text) {
  const json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object() || !parsed.contains("state") || !parsed["state"].is_string()) {
    return std::nullopt;
  }
  QueueAnnotation annotation;
  annotation.state = parsed["state"].get<std::string>();
  annotation.reason = core::StringField(parsed, "reason");
  annotation.message = core::StringField(parsed, "message");
  annotation.outcome = core::StringField(parsed, "outcome");
  if (parsed.contains("position") && parsed["position"].is_number_integer()) {
    annotation.position = parsed["position"].get<int64_t>();
  }
  return annotation;
}

QueueObject ReadQueueObject(const json& object, QueueObject::Kind kind) {
  QueueObject item;
  item.kind = kind;
  item.namespace_name = StringAt(object, "/metadata/namespace");
  item.name = StringAt(object, "/metadata/name");
  item.key = item.namespace_name + "/" + item.name;
  item.uid = StringAt(object, "/metadata/uid");
  item.resource_version = StringAt(object, "/metadata/resourceVersion");
  const core::Labels labels = v1alpha1::LabelsOf(object);
  const core::Labels annotations = v1alpha1::LabelsOf(object, "annotations");
  auto label = [&](const char* key) {
    const auto found = labels.find(key);
    return found == labels.end() ? std::string() : found->second;
  };
  if (std::string workload = label(v1alpha1::keys::kWorkload); !workload.empty()) {
    item.workload = item.namespace_name + "/" + workload;
  }
  item.run = item.uid;
  if (kind == QueueObject::Kind::kPod && !label(v1alpha1::keys::kRun).empty()) {
    item.run = label(v1alpha1::keys::kRun);
  }
  item.parent_run = label(v1alpha1::keys::kParentRun);
  if (const std::string priority = label(v1alpha1::keys::kPriority); !priority.empty()) {
    if (auto parsed = core::ParseWorkPriority(priority); parsed.ok()) {
      item.priority = *parsed;
    }
  }
  if (auto created = core::ParseRfc3339(StringAt(object, "/metadata/creationTimestamp"));
      created.ok()) {
    item.created_millis = created->time_since_epoch().count() * 1000;
  }
  const auto approved_by = annotations.find(v1alpha1::keys::kApprovedBy);
  const auto approved_at = annotations.find(v1alpha1::keys::kApprovedAt);
  if (approved_by != annotations.end() && !approved_by->second.empty() &&
      approved_at != annotations.end() && !approved_at->second.empty()) {
    item.approved = true;
    item.approved_by = approved_by->second;
    item.approved_at = approved_at->second;
  }
  if (const auto outcome = annotations.find(v1alpha1::keys::kOutcome); outcome != annotations.end()) {
    item.outcome = outcome->second;
  }
  if (const auto queue = annotations.find(v1alpha1::keys::kQueue); queue != annotations.end()) {
    item.annotation = DecodeQueueAnnotation(queue->second);
  }
  const json& deadline = At(object, "/spec/activeDeadlineSeconds");
  if (deadline.is_number_integer()) {
    item.active_deadline_seconds = deadline.get<int64_t>();
  }
  if (auto started = core::ParseRfc3339(StringAt(object, "/status/startTime")); started.ok()) {
    item.start_seconds = started->time_since_epoch().count();
  }
  item.state = kind == QueueObject::Kind::kJob ? JobState(object, item, &item.succeeded)
                                               : PodState(object, item, &item.succeeded);
  return item;
}

json AdmitPatch(const QueueObject& item, const json& object,
                std::optional<int64_t> max_runtime_seconds) {
  json patch = {
      {"metadata",
       {{"resourceVersion", item.resource_version},
        {"annotations", {{v1alpha1::keys::kQueue, QueueAnnotation::Admitted().Encode()}}}}}};
  if (item.kind == QueueObject::Kind::kJob) {
    patch["spec"]["suspend"] = false;
    if (max_runtime_seconds &&
        (!item.active_deadline_seconds || *item.active_deadline_seconds > *max_runtime_seconds)) {
      patch["spec"]["activeDeadlineSeconds"] = *max_runtime_seconds;
    }
    return patch;
  }
  json gates = json::array();
  const json& current = At(object, "/spec/schedulingGates");
  if (current.is_array()) {
    for (const json& gate : current) {
      if (core::StringField(gate, "name") != v1alpha1::keys::kSchedulingGate) {
        gates.push_back(gate);
      }
    }
  }
  patch["spec"]["schedulingGates"] = std::move(gates);
  return patch;
}

json SuspendPatch(const QueueObject& item, const QueueAnnotation& held,
                  const std::string& workload) {
  json patch = {{"metadata",
                 {{"resourceVersion", item.resource_version},
                  {"annotations", {{v1alpha1::keys::kQueue, held.Encode()}}}}},
                {"spec", {{"suspend", true}}}};
  if (!workload.empty()) {
    patch["metadata"]["labels"][v1alpha1::keys::kWorkload] = workload;
  }
  return patch;
}

std::optional<json> StopPatch(const QueueObject& item, int64_t now_seconds) {
  if (!item.start_seconds) {
    return std::nullopt;
  }
  const int64_t active = std::max<int64_t>(1, now_seconds - *item.start_seconds);
  if (item.active_deadline_seconds && *item.active_deadline_seconds <= active) {
    return std::nullopt;
  }
  return json{{"metadata", {{"resourceVersion", item.resource_version}}},
              {"spec", {{"activeDeadlineSeconds", active}}}};
}

json AnnotationPatch(const QueueAnnotation& annotation) {
  return {{"metadata", {{"annotations", {{v1alpha1::keys::kQueue, annotation.Encode()}}}}}};
}

}  // namespace agentbudget::queue
