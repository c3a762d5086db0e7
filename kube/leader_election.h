#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/mutex.h"
#include "kube/client.h"

namespace agentbudget::kube {

struct LeaderElectionConfig {
  std::string lease_namespace;
  std::string lease_name;
  std::string identity;  // unique per process, e.g. the pod name
  // client-go's defaults: others may take the lease 15 s after its last renewal; the
  // leader gives up when it could not renew for 10 s; attempts every 2 s.
  // REQUIRES: lease_duration > renew_deadline > retry_period > 0.
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  // On Stop(), hand the lease back so the next leader need not wait for it to expire.
  bool release_on_stop = true;
};

struct LeaderCallbacks {
  // This process became the leader: start the work. Must return promptly.
  std::function<void()> on_started_leading;
  // Leadership is lost (renewal failed for renew_deadline, or Stop()): stop acting at
  // once. Called on Run()'s thread before anything else happens.
  std::function<void()> on_stopped_leading;
  // Someone else (or this process) was seen holding the lease.
  std::function<void(const std::string& identity)> on_new_leader;
};

// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection:
// optimistic concurrency on the Lease's resourceVersion, and expiry judged by this
// process's own clock from when it last saw the record change (never by comparing clocks
// across machines). Thread-safe: Run() on one thread, Stop()/IsLeader() from any.
class LeaderElector {
 public:
  // `client` and `clock` must outlive the elector. Give the elector a client whose
  // request timeout is well below renew_deadline, so one stuck call cannot outlast it.
  LeaderElector(Client& client, LeaderElectionConfig config, LeaderCallbacks callbacks,
                const Clock& clock = SystemClock::Instance());

  // Blocks: campaigns until leader, then renews until leadership is lost or Stop() is
  // called, and returns. After a clean Stop() while leading, the lease is released.
  // Returns OK on Stop(), kUnavailable when leadership was lost, kInvalidArgument when
  // the config is invalid.
  Status Run() EXCLUDES(mu_);
  void Stop() EXCLUDES(mu_);
  bool IsLeader() const { return leader_.load(); }

 private:
  // One attempt to acquire or renew; true when this process holds the lease afterwards.
  bool TryAcquireOrRenew();
  void Release();
  // Waits `period` or until Stop(); returns whether stopped.
  bool WaitOrStopped(std::chrono::milliseconds period) EXCLUDES(mu_);
  nlohmann::json Record(const std::string& holder, int64_t duration_seconds,
                        const std::string& acquire_time, int64_t transitions) const;

  Client& client_;
  const LeaderElectionConfig config_;
  const LeaderCallbacks callbacks_;
  const Clock& clock_;
  std::atomic<bool> leader_{false};  // synchronises itself: IsLeader() reads it from any thread

  Mutex mu_;
  CondVar cv_;
  bool stopped_ GUARDED_BY(mu_) = false;

  // Run()'s thread only: what the lease looked like last time and when it changed.
  std::string observed_spec_;
  std::string observed_holder_;
  std::chrono::milliseconds observed_duration_{0};
  std::chrono::steady_clock::time_point observed_at_{};
  nlohmann::json lease_;  // the last Lease read or written
};

}  // namespace agentbudget::kube
