#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "kube/client.h"
#include "webhook/fanout_counter.h"

namespace agentbudget::webhook {

// Counts subagents in one ConfigMap per parent run, "agentbudget-fanout-<run>" in the
// run's namespace, data {"count": "<n>", "run": "<run>"}, labelled agentbudget.io/run and
// app.kubernetes.io/managed-by=agentbudget-webhook (the operator deletes it when the run
// ends). A claim reads the ConfigMap and writes count+1 with the read resourceVersion as
// precondition; the API server (etcd's compare-and-swap) refuses all but one concurrent
// writer, the losers re-read and retry, and once the count reaches the cap every further
// claim is a read and a denial. So exactly `cap` claims succeed however many replicas race.
//
// Cost under a burst of N concurrent claims for one run with cap C through R replicas:
// with the per-replica turn below at most R writers race, so about C*R reads and writes
// until the cap, then one read per replica; the rest are denied from memory.
//
// Within one replica, claims for the same run take turns (a lock per run), so the API
// server sees at most one writer per replica and run; and once a replica has read a count
// at the cap it denies further claims for that run without a call — counts only grow, so
// "full" never becomes false (this caches a fact of the source of truth, not a count).
//
// Thread-safe. `client` must outlive the counter.
class KubeFanoutCounter final : public FanoutCounter {
 public:
  // `deadline`: how long one claim may keep retrying conflicts before failing with
  // kDeadlineExceeded (keep it under the webhook's timeoutSeconds).
  explicit KubeFanoutCounter(kube::Client& client,
                             std::chrono::milliseconds deadline = std::chrono::milliseconds(2000),
                             const Clock& clock = SystemClock::Instance());

  Result<FanoutClaim> Claim(const std::string& ns, const std::string& parent_run, int64_t cap,
                            bool dry_run) override;

  // The ConfigMap name for a run: "agentbudget-fanout-" + the run id made DNS-safe.
  static std::string ConfigMapName(const std::string& parent_run);

 private:
  Result<FanoutClaim> ClaimLocked(const std::string& ns, const std::string& parent_run,
                                  int64_t cap, bool dry_run);

  kube::Client& client_;
  const std::chrono::milliseconds deadline_;
  const Clock& clock_;

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<std::mutex>> run_locks_;  // GUARDED_BY(mu_)
  std::map<std::string, int64_t> full_;  // GUARDED_BY(mu_): run key -> count seen at the cap
};

}  // namespace agentbudget::webhook
