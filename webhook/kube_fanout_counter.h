#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "kube/client.h"
#include "webhook/fanout_counter.h"
#include "webhook/fanout_ledger.h"

namespace agentbudget::webhook {

// How long a claim may take, and when an unstored creation gives its slot back.
struct FanoutTiming {
  // From the receipt of the admission request to the answer; keep it well under the
  // webhook configuration's timeoutSeconds (3 s).
  std::chrono::milliseconds budget{2000};
  // How long after its claim a slot whose object the API server has not stored is
  // released: longer than the webhook timeout plus the time to store an admitted object.
  std::chrono::milliseconds grace{5000};
  // How often a claim at the cap re-lists the run's objects while slots are pending.
  std::chrono::milliseconds poll{25};
};

// Counts subagents in one ConfigMap per parent run, "agentbudget-fanout-<run>" in the run's
// namespace, with data {"run": <run>, "slots": <FanoutSlot list, see fanout_ledger.h>},
// labelled agentbudget.io/run and app.kubernetes.io/managed-by=agentbudget-webhook, and
// owned by the parent run's Job or Pod when the request names it (the garbage collector
// then deletes it with the run). Every write is conditional on the resourceVersion read
// (etcd's compare-and-swap), so concurrent writers through any number of replicas are
// serialised by the API server; losers re-read and retry.
//
// A claim below the cap appends a pending slot naming the claimant (kind, name, admission
// UID, time). At the cap, pending slots are settled against the run's objects as the API
// server stores them (one LIST per kind by the agentbudget.io/parent-run label, and a GET by
// name before releasing): a stored object confirms its slot for good; a creation that was
// never stored `grace` after its claim (the API server timed out the webhook call, or a
// later admission step or the store refused it) gives its slot back to the next claimant. A
// claim at the cap while slots are pending waits for them (polling every `poll`) within
// its budget; if they are still pending then, it fails with kDeadlineExceeded rather than
// deny what may yet fit. dryRun claims only read.
//
// Within one replica, concurrent claims for the same run are committed together: one
// claim leads, reads the ConfigMap once, appends a slot for every waiting claim that fits
// and writes once; claims arriving meanwhile wait for the next such batch (each within its
// own budget). So the API server sees at most one writer per replica and run, and a burst
// costs a few round trips per replica instead of one per claim. Once a replica has seen
// `cap` confirmed slots it refuses further claims for that run without a call (confirmed
// slots are never released, so "full" never becomes false).
//
// Caps above kMaxFanoutSlots count as kMaxFanoutSlots.
//
// Bounded state: a run's claim queue lives only while claims of that run are in flight (at
// most one per worker thread); the "full" shortcut remembers at most kMaxFullRuns runs and
// forgets the oldest first (a forgotten run costs one read of its ConfigMap again).
//
// Thread-safe. `client` must outlive the counter.
class KubeFanoutCounter final : public FanoutCounter {
 public:
  static constexpr size_t kMaxFullRuns = 4096;

  explicit KubeFanoutCounter(kube::Client& client, FanoutTiming timing = {},
                             const Clock& clock = SystemClock::Instance());

  Result<FanoutClaim> Claim(const FanoutRequest& request) override EXCLUDES(mu_);

  // The ConfigMap name for a run: "agentbudget-fanout-" + the run id made DNS-safe.
  static std::string ConfigMapName(const std::string& parent_run);

  // How many runs the counter keeps state for (tests assert the bounds above).
  struct Tracked {
    size_t queued_runs = 0;  // runs with claims in flight
    size_t full_runs = 0;    // runs remembered as full
  };
  Tracked tracked() const EXCLUDES(mu_);

 private:
  // A claim waiting for a batch of its run. Fields other than `request` and `deadline` are
  // guarded by the run's mutex.
  struct Waiter {
    const FanoutRequest* request;
    std::chrono::steady_clock::time_point deadline;
    bool taken = false;  // part of a batch being committed
    std::optional<Result<FanoutClaim>> result;
  };
  // The claims of one run in this replica.
  struct RunQueue {
    Mutex mu;
    CondVar changed;
    std::deque<Waiter*> queued GUARDED_BY(mu);
    bool leading GUARDED_BY(mu) = false;  // a claim is committing a batch
  };

  // Queues the claim on its run and waits for its answer, leading batches as needed.
  Result<FanoutClaim> ClaimInRun(RunQueue& run, const FanoutRequest& request);
  // Remembers that the run `key` has `confirmed` slots, all it may take.
  void RememberFull(const std::string& key, int64_t confirmed) EXCLUDES(mu_);
  // Commits one batch of claims of the same run; one result per claim, in order.
  std::vector<Result<FanoutClaim>> ClaimBatch(const std::vector<const FanoutRequest*>& batch,
                                              std::chrono::steady_clock::time_point deadline);
  // The run's objects of the kinds of its pending slots, as the API server has them.
  Result<std::vector<StoredObject>> StoredObjectsOf(const FanoutRequest& request,
                                                    const std::vector<FanoutSlot>& slots,
                                                    int64_t now_unix_ms);
  // Writes `slots` into `config_map` (as read) conditioned on its resourceVersion, or
  // creates the ConfigMap when `config_map` is null.
  Status Write(nlohmann::json config_map, const std::vector<FanoutSlot>& slots,
               const FanoutRequest& request);
  int64_t NowUnixMs() const;

  kube::Client& client_;
  const FanoutTiming timing_;
  const Clock& clock_;

  mutable Mutex mu_;
  // Run key -> its queue, while claims of the run are in flight. A claim copies the pointer
  // only under mu_, and drops its copy under mu_ (the last one erases the entry).
  std::map<std::string, std::shared_ptr<RunQueue>> runs_ GUARDED_BY(mu_);
  std::map<std::string, int64_t> full_ GUARDED_BY(mu_);  // run key -> confirmed slots
  std::deque<std::string> full_order_ GUARDED_BY(mu_);    // full_'s keys, oldest first
};

}  // namespace agentbudget::webhook
