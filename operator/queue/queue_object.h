#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/budget_decision.h"

namespace agentbudget::queue {

// Where a governed object stands in the queue.
enum class QueueState {
  kUngoverned,  // not held by the webhook: the queue leaves it alone
  kHeld,        // suspended Job or gated Pod waiting for admission
  kRunning,     // admitted and not finished
  kFinished,    // finished, not yet recorded by the queue
  kRecorded,    // finished and recorded (outcome counted); nothing more to do
};

// The `agentbudget.io/queue` annotation as the operator writes it:
//   {"state":"Pending","reason":"WaitingForParallelism","position":3,"message":"..."}
//   {"state":"Admitted"}   {"state":"Finished","outcome":"Succeeded"}
// The webhook's initial {"state":"Pending","reason":"AwaitingAdmission"} reads as Pending.
struct QueueAnnotation {
  std::string state;
  std::string reason;
  int64_t position = 0;
  std::string message;
  std::string outcome;

  static QueueAnnotation Pending(std::string reason, int64_t position, std::string message);
  static QueueAnnotation Admitted();
  static QueueAnnotation Finished(bool succeeded);

  bool operator==(const QueueAnnotation&) const = default;
  std::string Encode() const;
};
// Parses the annotation text; nullopt when it is absent or malformed (malformed text is
// treated as absent, never trusted).
std::optional<QueueAnnotation> DecodeQueueAnnotation(const std::string& text);

// One Job or bare Pod as the queue sees it, read from an API object. A value type.
struct QueueObject {
  enum class Kind { kJob, kPod };
  Kind kind = Kind::kJob;
  std::string key;  // "namespace/name"
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string resource_version;
  std::string workload;    // "namespace/workload" from agentbudget.io/workload; "" when unlabelled
  std::string run;         // this run's id: a Job's UID, a bare Pod's agentbudget.io/run or UID
  std::string parent_run;  // agentbudget.io/parent-run; "" for a top-level run
  std::optional<core::WorkPriority> priority;  // agentbudget.io/priority, when valid
  int64_t created_millis = 0;
  // Approved: both agentbudget.io/approved-by and agentbudget.io/approved-at are set (by
  // the webhook, for an approver); approved-by alone is not an approval.
  bool approved = false;
  std::string approved_by;  // the approver's username, when approved
  std::string approved_at;  // when, as the webhook wrote it, when approved
  QueueState state = QueueState::kUngoverned;
  bool succeeded = false;  // for kFinished/kRecorded: the Job completed or the Pod succeeded
  std::string outcome;     // agentbudget.io/outcome (merged | abandoned | reverted), set by CI
  std::optional<QueueAnnotation> annotation;
  std::optional<int64_t> active_deadline_seconds;  // spec.activeDeadlineSeconds
  // status.startTime in seconds since the epoch: a Job's last unsuspension, a Pod's start.
  std::optional<int64_t> start_seconds;
};

// Reads a Job (kind == kJob) or a Pod. Job-owned Pods and objects the webhook did not hold
// (no queue annotation on a Job, no admission gate or admitted annotation on a Pod) read
// as kUngoverned. Never throws: missing or mistyped fields read as absent.
QueueObject ReadQueueObject(const nlohmann::json& object, QueueObject::Kind kind);

// What the queue's backstop looks for, whatever let it happen (a webhook outage, an object
// older than the namespace's opt-in or its AgentWorkload, a write that bypassed the webhook):
//
// A Job running without an admission the queue granted: spec.suspend is not true, it has
// not finished (no Complete or Failed condition), and its queue annotation is not
// {"state":"Admitted",...} (only the operator writes that; the webhook protects it).
bool RunsWithoutAdmission(const nlohmann::json& job);
// A Pod in phase Running without an init container named agentbudget-meter; mirror pods
// (which no webhook sees) are not.
bool RunsWithoutMeter(const nlohmann::json& pod);

// Merge patches (RFC 7386). Those that change admission carry metadata.resourceVersion, so
// the API server refuses them (409) when the cached object is stale and nothing is done
// twice.
//
// Admits: unsuspends a Job (and caps spec.activeDeadlineSeconds at `max_runtime_seconds`
// when given) or removes the admission gate from a Pod (`object` is the Pod, for its other
// gates); the annotation becomes {"state":"Admitted"}.
nlohmann::json AdmitPatch(const QueueObject& item, const nlohmann::json& object,
                          std::optional<int64_t> max_runtime_seconds);
// Suspends a running Job and returns it to the queue with `held`. With `workload` (an
// AgentWorkload's name) the Job is also labelled agentbudget.io/workload, so a Job the
// webhook never saw joins that workload's queue.
nlohmann::json SuspendPatch(const QueueObject& item, const QueueAnnotation& held,
                            const std::string& workload = "");
// Ends an admitted Job or Pod now: spec.activeDeadlineSeconds becomes the seconds it has
// been active at `now_seconds` (at least 1), so the Job controller fails the Job with
// DeadlineExceeded (no retries) and the kubelet ends a Pod the same way. nullopt when it
// has not started, or its deadline has already passed (it is ending).
std::optional<nlohmann::json> StopPatch(const QueueObject& item, int64_t now_seconds);
// Rewrites only the annotation (hold reason and position, or Finished).
nlohmann::json AnnotationPatch(const QueueAnnotation& annotation);

}  // namespace agentbudget::queue
