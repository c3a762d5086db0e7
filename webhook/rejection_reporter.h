#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/mutex.h"
#include "common/result.h"
#include "api/v1alpha1/resources.h"
#include "kube/client.h"
#include "kube/resource.h"

namespace agentbudget::webhook {

// The status merge patch that adds `pending` rejections to `workload` as it was read:
//   {"metadata":{"resourceVersion": <read>}, "status":{"rejectedRuns": <read + pending>}}
// The resourceVersion makes the write conditional (the API server answers 409 Conflict when
// the object changed since the read), so concurrent writers never lose an increment. An
// absent status.rejectedRuns counts as 0. Fails with kInvalidArgument when the object has no
// resourceVersion, its rejectedRuns is not a non-negative integer, or the sum overflows.
// REQUIRES: pending > 0.
Result<nlohmann::json> RejectedRunsPatch(const nlohmann::json& workload, int64_t pending);

// Counts the subagents the webhook rejects at creation, per AgentWorkload, and adds them to
// the workloads' status.rejectedRuns from a background thread (docs/webhook.md). The webhook is
// the only writer of that field. Count() is all the admission path does: it updates a map
// in memory and never waits for I/O. Every `interval` the flusher takes the pending counts
// and, per workload, GETs it and merge-patches its status subresource with
// RejectedRunsPatch: a 409 (another replica wrote in between) re-reads and retries up to
// `kConflictRetries` times; a workload that is gone (404) drops its count; any other
// failure keeps the count pending for the next flush and logs it. Counts still pending when
// the process dies without Stop() are lost.
//
// Bounded state: counts are pending for at most kMaxPendingWorkloads workloads at once (the
// workloads named are ones the cache holds, and each flush empties the map but for writes
// that failed); a rejection of yet another workload while that many are pending is dropped
// and counted in dropped(), logged at the next flush.
//
// Count(), Flush() and pending() are thread-safe; Start() and Stop() are for the one thread
// that owns the reporter. `client` must outlive the reporter.
class RejectionReporter {
 public:
  static constexpr int kConflictRetries = 5;
  static constexpr size_t kMaxPendingWorkloads = 10000;

  explicit RejectionReporter(kube::Client& client,
                             std::chrono::milliseconds interval = std::chrono::seconds(1));
  // Stop().
  ~RejectionReporter();
  RejectionReporter(const RejectionReporter&) = delete;
  RejectionReporter& operator=(const RejectionReporter&) = delete;

  // One more rejection for AgentWorkload `name` in namespace `ns`.
  void Count(const std::string& ns, const std::string& name) EXCLUDES(mu_);

  // Starts the background flusher. REQUIRES: not started before.
  void Start();
  // Stops the flusher, if it runs, and flushes once more. Later calls only flush.
  void Stop() EXCLUDES(mu_);

  // Writes every pending count once, as described above (the flusher calls this; tests
  // call it directly). Flushes are serialised. Returns the number of workloads whose count
  // is still pending afterwards.
  size_t Flush() EXCLUDES(flush_mu_, mu_);

  // Rejections counted and not yet written, over all workloads.
  int64_t pending() const EXCLUDES(mu_);
  // Workloads with pending rejections.
  size_t pending_workloads() const EXCLUDES(mu_);
  // Rejections dropped because kMaxPendingWorkloads were pending.
  int64_t dropped() const EXCLUDES(mu_);

 private:
  using WorkloadKey = std::pair<std::string, std::string>;  // namespace, name
  // What became of one workload's count.
  enum class Outcome { kWritten, kGone, kKept };

  Outcome Write(const WorkloadKey& workload, int64_t count);
  // Adds `count` pending rejections of `workload`, within the bound.
  void AddPending(const WorkloadKey& workload, int64_t count) REQUIRES(mu_);
  void Loop() EXCLUDES(mu_);

  kube::Client& client_;
  const std::chrono::milliseconds interval_;

  mutable Mutex mu_;
  std::map<WorkloadKey, int64_t> pending_ GUARDED_BY(mu_);
  int64_t dropped_ GUARDED_BY(mu_) = 0;           // since the start
  int64_t dropped_logged_ GUARDED_BY(mu_) = 0;    // of which the log has told
  bool stopping_ GUARDED_BY(mu_) = false;
  CondVar wake_;  // signalled on stop

  Mutex flush_mu_;  // held for a whole Flush()
  std::thread flusher_;  // touched only by Start() and Stop()
};

}  // namespace agentbudget::webhook
