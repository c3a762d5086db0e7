#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "core/money.h"
#include "core/run_envelope.h"
#include "core/usage.h"
#include "meter/authority_client.h"
#include "meter/commit_spool.h"
#include "meter/config.h"
#include "meter/reservations_ahead.h"

namespace agentbudget::meter {

// What the enforcer decided for one call.
struct Admission {
  bool allowed = false;
  bool degraded = false;
  std::string model;   // the model to send upstream
  std::string reason;  // for a denial or a degrade: the budget or ceiling, in words
  std::string reservation_id;  // the authority's, or "local-<key>" when enforced locally
  std::string idempotency_key;
  core::Money estimate_cost;
  int64_t estimate_tokens = 0;
};

// The spooled entries the authority has not acknowledged: what a stopping meter leaves.
struct UnsentEntries {
  std::vector<std::string> idempotency_keys;  // in spool order
  core::Money cost;     // the spend of the commits among them
  int64_t tokens = 0;
};

// Per call: Admit (reserve) → the caller forwards → Complete (commit) or Abandon (release).
// Against the authority when one is configured; the run envelope is always also enforced
// locally. When the authority is unreachable (or answers 401/403): failureMode Open admits
// on the local envelope alone, Closed denies. Commits to the authority are first written
// to the spool and sent by background threads (Options::senders), oldest first, in batches
// of up to Options::max_batch entries (POST /v1/batch; one at a time to an authority without
// it), resent with backoff until acknowledged, across restarts; entries of different
// batches may reach the authority in any order. A commit whose reservation the authority
// does not know (404, e.g. a local admission) is sent as a direct debit (POST /v1/events)
// instead. While the spool is full (CommitSpool's bound) calls wait for room, for a bounded
// time, and are then denied: a call whose commit could not be kept would be spend the
// authority might never learn of.
// When the local envelope denies a call for a ceiling that ends runs (core::StopsRun), the
// authority, which never saw that call, is told once per process per ceiling with a
// zero-cost event of kind "ceiling:<name>", spooled and resent like the commits; the
// denial itself never waits for the authority. Thread-safe.
class Enforcer {
 public:
  struct Options {
    FailureMode failure_mode = FailureMode::kOpen;
    core::EnvelopeLimits limits;
    std::string run;  // prefix of idempotency keys
    std::chrono::milliseconds min_backoff{100};
    std::chrono::milliseconds max_backoff{10'000};
    // Batches in flight at once: the authority answers a batch once it is durable (its
    // group commit, up to --group-commit-ms), so a meter acknowledges about
    // senders * max_batch entries per group commit.
    size_t senders = 8;
    size_t max_batch = kMaxBatch;  // REQUIRES: 1..kMaxBatch
    // While the spool is full, a call waits up to this long for room, made as the senders'
    // batches are acknowledged, before it is denied; at most `max_waiting` calls wait at
    // once, and any more are denied at once (as every call is with a wait of 0).
    std::chrono::milliseconds spool_wait{5000};
    size_t max_waiting = 1024;
    // Reservations asked for ahead of calls (meter/reservations_ahead.h) when set; the
    // held ones not used in time are released by a thread of the enforcer's.
    std::optional<ReservationsAhead::Options> ahead = std::nullopt;
  };

  // `authority` may be null (local enforcement only); then `spool` may be null too.
  // REQUIRES: spool != nullptr when authority != nullptr.
  // Spooled commits of a previous process are counted in the local envelope and resent.
  Enforcer(Options options, std::unique_ptr<AuthorityClient> authority,
           std::unique_ptr<CommitSpool> spool);
  // Releases the reservations held ahead, stops the senders, writes queued entries; unsent
  // commits stay in the spool.
  ~Enforcer();

  Enforcer(const Enforcer&) = delete;
  Enforcer& operator=(const Enforcer&) = delete;

  using AdmitDone = std::function<void(Admission)>;
  // Decides a call: the local envelope at once, then the authority's reservation (one held
  // ahead when there is one, else asked for now), which never blocks the caller. `done` gets the admission exactly once: inline when decided
  // without the authority (none configured, the spool full, the envelope denies), else on
  // the authority client's thread; it must not block.
  void Admit(std::string_view provider, const std::string& model, uint64_t fingerprint,
             core::Money estimate_cost, int64_t estimate_tokens, AdmitDone done)
      EXCLUDES(mu_, send_mu_);

  // Records the actual usage of an admitted call. Never fails and never blocks: the commit
  // is queued for the spool; one the spool cannot store is logged and sent once, without
  // durability, by a sender; one that cannot be sent either is logged and kept in memory
  // accounting.
  void Complete(const Admission& admission, const std::string& model, const core::Usage& usage,
                core::Money cost, bool estimated) EXCLUDES(mu_, send_mu_);

  // Releases an admitted call that was never forwarded.
  void Abandon(const Admission& admission) EXCLUDES(mu_);
  // The same for a call that never reached the provider (the connection to it failed): it
  // does not count towards maxRequests. (The authority counts committed calls only.)
  void AbandonUnsent(const Admission& admission) EXCLUDES(mu_);

  core::EnvelopeTotals totals() const EXCLUDES(mu_);
  const core::EnvelopeLimits& limits() const { return options_.limits; }

  // Spooled entries (commits and ceiling reports) not yet acknowledged.
  size_t PendingCommits() const;
  // Wakes the senders now, whatever their backoff (after the authority came back, or in
  // tests).
  void Flush() EXCLUDES(send_mu_);
  // Keeps waking the senders (every 250 ms, whatever their backoff) and waits until every
  // spooled entry is acknowledged or `timeout` passes; true when none is left. For
  // shutdown: a pod's spool may not outlive the pod, and an authority that comes back
  // while the pod terminates is used at once.
  bool Drain(std::chrono::milliseconds timeout) EXCLUDES(send_mu_);
  // The entries still in the spool, read from it. Empty without an authority.
  UnsentEntries Unsent() const;

 private:
  std::string NextKey();
  // The admission of a call the local envelope allowed, given the authority's answer.
  Admission Decide(Admission admission, const Result<Reservation>& reservation) EXCLUDES(mu_);
  // Undoes the local envelope's reservation of `admission`.
  void ReleaseLocally(const Admission& admission) EXCLUDES(mu_);
  // Releases the authority's reservation of `admission`, if it holds one.
  void ReleaseAtAuthority(const Admission& admission);
  // After a call of `model` was allowed with this estimate: asks, in one batch, for the
  // reservations ahead_ wants held.
  void ReserveAhead(const std::string& provider, const std::string& model,
                    core::Money estimate_cost, int64_t estimate_tokens);
  // A call that found the spool full.
  struct WaitingCall {
    std::chrono::steady_clock::time_point until;
    std::string provider;
    std::string model;
    uint64_t fingerprint = 0;
    core::Money estimate_cost;
    int64_t estimate_tokens = 0;
    AdmitDone done;
  };
  enum class WaitOutcome {
    kWaiting,  // in waiting_: ResumeWaiting answers it
    kRoom,     // the spool has room after all: admit it now
    kRefused,  // it may not wait (no spool_wait, or max_waiting wait already)
  };
  // Parks the call in waiting_ unless the spool has room after all or it may not wait;
  // `done` is moved from only when the call is parked.
  WaitOutcome Wait(std::string_view provider, const std::string& model, uint64_t fingerprint,
                   core::Money estimate_cost, int64_t estimate_tokens, AdmitDone& done)
      EXCLUDES(wait_mu_);
  // Admits as many waiting calls as the spool has room for, and denies those whose wait
  // ended; with `all`, denies every one (the enforcer stops).
  void ResumeWaiting(bool all) EXCLUDES(wait_mu_);
  // The waits' own timer (waits_ended_'s thread): resumes the waiting calls as the oldest's
  // wait ends, which a sender held by a slow authority or a backoff would do only later.
  void EndWaits() EXCLUDES(wait_mu_);
  // The denial of a call for want of room in the spool.
  Admission SpoolFull(const std::string& model) const;
  // Releases reservations held ahead and no longer wanted; with `until_failure`, stops at
  // the first the authority does not take (at shutdown: it expires the others).
  void ReleaseAhead(const std::vector<ReservationsAhead::Held>& held, bool until_failure);
  // Spools the report of a local denial for `ceiling` unless this process already did.
  void ReportCeiling(const std::string& ceiling, const Admission& denied)
      EXCLUDES(mu_, send_mu_);
  // Queues `entry` to be stored durably in the spool, and wakes the senders once it is;
  // `failed` gets the spool's error when it could not be stored (on the spool's writer
  // thread, or inline when the spool is full).
  void Spool(const nlohmann::json& entry, std::function<void(const Error&)> failed)
      EXCLUDES(send_mu_);
  // One sender: claims the oldest entries no other sender has in flight, sends them, removes
  // those done with; until the enforcer stops.
  void SendLoop() EXCLUDES(send_mu_);
  // What a sender sends next: a commit the spool could not store, or else spooled entries,
  // marked in flight.
  struct Claimed {
    std::vector<CommitSpool::Entry> entries;
    std::optional<Write> unspooled;
  };
  // The next to send; neither when the enforcer stops.
  Claimed Claim() EXCLUDES(send_mu_);
  // Sends the writes of claimed entries (nullopt: a malformed entry, dropped); for each,
  // true when it is done with (acknowledged or not retryable).
  std::vector<bool> SendBatch(std::vector<std::optional<Write>>&& batch);
  // Sends one write alone; true when it is done with.
  bool SendOne(const Write& write);
  bool Stopping() const EXCLUDES(send_mu_);
  // Commits not yet acknowledged: spooled or queued to be, or waiting unspooled.
  size_t Unsettled() const;

  const Options options_;
  const std::unique_ptr<AuthorityClient> authority_;
  // Reset first by the destructor: its writer answers queued appends with callbacks into
  // this object.
  std::unique_ptr<CommitSpool> spool_;
  const std::string key_prefix_;
  std::atomic<uint64_t> counter_{0};  // synchronises itself: NextKey() runs on any thread

  mutable Mutex mu_;
  core::RunEnvelope envelope_ GUARDED_BY(mu_);
  // Ceilings whose report is spooled or sent by this process (or found in the spool).
  std::set<std::string> reported_ceilings_ GUARDED_BY(mu_);

  // The senders' state, apart from mu_ so that claiming and parsing a batch never holds up
  // a call.
  mutable Mutex send_mu_;
  CondVar wake_;  // entries were spooled, the backoff ended early, or the enforcer stops
  CondVar sent_;  // entries left the spool
  // A sender was woken for new entries and has not yet claimed any or found none: later
  // ones need no wake-up.
  bool wake_pending_ GUARDED_BY(send_mu_) = false;
  bool stop_ GUARDED_BY(send_mu_) = false;
  // Commits the spool could not store, each sent once by a sender. They take room in the
  // spool's bound as if stored (Unsettled), so they number at most its max_entries plus the
  // calls admitted before it filled.
  std::deque<Write> unspooled_ GUARDED_BY(send_mu_);
  std::atomic<size_t> unspooled_count_{0};  // unspooled_.size(), read without send_mu_
  // Spooled entries some sender is sending.
  std::set<uint64_t> in_flight_ GUARDED_BY(send_mu_);
  // No sender claims before this: the backoff after a failed send.
  std::chrono::steady_clock::time_point retry_at_ GUARDED_BY(send_mu_);
  std::chrono::milliseconds backoff_ GUARDED_BY(send_mu_);
  std::vector<std::thread> senders_;

  // Calls waiting for room in the spool, oldest first; at most Options::max_waiting.
  Mutex wait_mu_;
  std::deque<WaitingCall> waiting_ GUARDED_BY(wait_mu_);
  CondVar parked_;  // a call began to wait, or the enforcer stops
  bool stop_waits_ GUARDED_BY(wait_mu_) = false;
  std::thread waits_ended_;  // runs EndWaits; with an authority and a spool_wait only

  // Shared with the answers to reservations asked ahead, which may come after this object
  // is gone; null without Options::ahead or an authority.
  std::shared_ptr<ReservationsAhead> ahead_;
  std::thread ahead_releaser_;  // releases the held reservations that went stale
};

}  // namespace agentbudget::meter
