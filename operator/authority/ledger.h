#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/result.h"
#include "core/budget_spec.h"
#include "core/rate_card.h"
#include "core/run_envelope.h"
#include "operator/authority/budget_state.h"
#include "operator/authority/caller.h"
#include "operator/authority/compact_answer.h"
#include "operator/authority/group_committer.h"
#include "operator/authority/key_filter.h"
#include "operator/authority/ledger_entry.h"
#include "operator/authority/ledger_store.h"
#include "operator/authority/workload_spend.h"

namespace agentbudget::authority {

struct ReserveRequest {
  std::string idempotency_key;
  std::string provider;
  std::string model;
  int64_t estimate_micros = 0;
  int64_t estimate_tokens = 0;
  // Asked for ahead of the call that will use it: its denial is no call's, so it does not
  // mark the run as having reached a ceiling.
  bool ahead = false;
  uint64_t request_hash = 0;  // fingerprint of the request body
};

struct CommitRequest {
  std::string idempotency_key;
  std::string model;
  int64_t cost_micros = 0;
  int64_t tokens = 0;  // every type: input + output
  // By OpenTelemetry GenAI token type: input (with cache reads and writes), output (with
  // reasoning). For metrics; `tokens` is what budgets are charged.
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  TokenCounts token_types;  // the same tokens by SKU type, kept in the ledger
  uint64_t request_hash = 0;
};

struct ReleaseRequest {
  std::string idempotency_key;
  uint64_t request_hash = 0;
};

struct EventRequest {
  std::string idempotency_key;
  std::string kind;
  int64_t cost_micros = 0;
  int64_t tokens = 0;
  uint64_t request_hash = 0;
};

// Committed spend since this process started, by low-cardinality attribution (never run
// ids), for metrics; read with Ledger::spend(). `model` is the rate card's id of the model
// or "other"; direct debits carry their kind instead, one of kEventKinds or "other".
struct SpendKey {
  std::string namespace_name;
  std::string team;
  std::string workflow;
  std::string model;
  auto operator<=>(const SpendKey&) const = default;
};
struct SpendTotals {
  int64_t cost_micros = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
};

// The direct-debit kinds that are metric label values as they are; any other kind counts
// as "other" there (it is still charged and exported under its own name).
inline constexpr const char* kEventKinds[] = {"llm", "compute", "tool", "sandbox", "retrieval"};

// How many entries the ledger's per-run and per-key maps hold; read with Ledger::sizes(),
// for tests that show their bounds.
struct LedgerSizes {
  size_t runs = 0;            // run envelopes in memory
  size_t recovered_runs = 0;  // run totals read back by Recover(), not yet seen again
  size_t reservations = 0;    // in flight, and tombstones (committed ones included)
  size_t committed = 0;       // of those, committed reservations' tombstones
  size_t answers = 0;         // idempotency answers
  size_t match_cache = 0;     // budgets matching an attribution
  size_t spend_keys = 0;      // spend() series
  // Entries the last Sweep() handled: each one it expired, forgot or found durable, and
  // each idle run it kept because the run still holds reservations. Beyond those it reads
  // only the first entry of each order that is not due yet.
  size_t sweep_visits = 0;
};

// One run as the ledger knows it; read with Ledger::Run().
struct RunSummary {
  core::EnvelopeTotals totals;  // committed spend, tokens and requests; reservations in flight
  // "maxCost" or "maxTokens" once a call of the run was denied for that ceiling: by the
  // authority's run envelope, or by a meter that reported it with a "ceiling:<name>" event
  // (core::kCeilingEventPrefix); "" otherwise. The first such ceiling is kept.
  std::string ceiling;
};

// Counters for metrics; read with Ledger::stats().
struct LedgerStats {
  int64_t allowed = 0;
  int64_t degraded = 0;
  int64_t denied = 0;
  int64_t observed_denials = 0;
  int64_t commits = 0;
  int64_t late_commits = 0;
  int64_t events = 0;
  int64_t expired = 0;
  int64_t replays = 0;
  int64_t conflicts = 0;
};

// The budget authority's state: every budget's balances, every run's envelope, the
// reservations in flight and the answers given to idempotency keys. One mutex makes each
// decision atomic across every matching budget, perKey envelope and the run envelope.
//
// Reservations are decided in memory and answered at once (the agent's critical path).
// Commits and events change balances at once, so the next reservation sees them, and are
// acknowledged (the reply runs) only once the GroupCommitter made them durable. After a
// restart, Recover() rebuilds balances and idempotency answers from the durable entries:
// exactly what was acknowledged, plus what was durable but not yet acknowledged (whose
// resend then gets the first answer).
//
// Replies: a replayed idempotency key gets the first answer (waiting for durability if the
// first is still pending); the same key with a different request is kConflict. A commit
// after its reservation expired, or of a reservation this process does not know (issued
// before a restart), is recorded and marked late, never dropped.
//
// Pods choose model names and event kinds; neither becomes a key of the ledger's maps or a
// metric label as chosen: a model is named by the rate card's id or "other"
// (core::RateCard::BoundedId; that is also the `model` budgets select and key by), a kind
// by kEventKinds or "other". Bounds (LedgerSizes): a run's envelope is forgotten when the
// operator reports how the run ended (an "outcome:Succeeded|Failed" event) with nothing
// reserved, or after `run_idle_ttl` without a call; a run recovered from the durable
// ledger is kept only if it was active within `run_idle_ttl`, and forgotten then too;
// reservations live `reservation_ttl`, their tombstones `tombstone_ttl`; idempotency
// answers `idempotency_ttl` — or, with a store that keeps an AnswerIndex, answers and
// committed reservations' tombstones `recent_answers_ttl` (the store answers older keys;
// a key filter of fixed size says which to ask it about); the match cache at most kMatchCacheSize entries; spend()
// series are bounded by namespaces x teams x workflows x (rate card ids + kinds + 2).
// Thread-safe.
class Ledger {
 public:
  struct Options {
    std::chrono::seconds reservation_ttl{300};
    // How long expired, committed and released reservations are remembered.
    std::chrono::seconds tombstone_ttl{3600};
    // How long idempotency answers are kept: resends come within this window. A meter
    // resends an unacknowledged commit from its spool every few seconds (at most
    // meter::Enforcer::Options::max_backoff, 10 s) for as long as the authority does not
    // answer, and commits come at the latest a reservation TTL after the reservation, so
    // the window is the reservation TTL plus the longest authority outage meters are
    // expected to ride out (a restart or failover: minutes), with a wide margin.
    std::chrono::seconds idempotency_ttl{3600};
    // Runs idle this long are forgotten (their spend stays in the durable ledger).
    std::chrono::seconds run_idle_ttl{24 * 3600};
    // With a store that keeps an AnswerIndex: how long answers and committed reservations'
    // tombstones stay in memory once durable (the store answers for the rest of the
    // idempotency window). Reservations' and releases' answers, which no store keeps, are
    // kept this long too: the meter sends a reservation or a release once, with a 2 s
    // timeout, and a reservation resent later gets a decision of its own.
    std::chrono::seconds recent_answers_ttl{10};
    // With a store that keeps an AnswerIndex: the size of each of the two generations of
    // the filter of commits' and events' keys made within the idempotency window
    // (KeyFilter). Only keys the filter may hold are looked up in the store, one index
    // probe each. 2^27 bits = 16 MiB each, 32 MiB in all: at 5,000 pairs/s sustained for
    // an hour (18 million keys a generation, 3 probes), about 7 % of new keys look like old
    // ones (350 probes/s); at 1,000 pairs/s, 0.1 %.
    uint64_t key_filter_bits = uint64_t{1} << 27;
    // Commits and events waiting for the store at most: beyond it a new one is refused with
    // kUnavailable (the meter keeps it in its spool and resends it), so that a store that
    // is down, or slower than the rate, does not grow memory without bound. 10,000 is 2 s
    // at 5,000 pairs/s (a store that keeps up has one or two batches of 1,000 waiting); a
    // waiting entry holds about 2.5 KB (the entry, its answer, the reply waiting for it and
    // the group committer's queue), so this bounds them to about 25 MiB.
    size_t max_pending_commits = 10000;
  };

  // A JSON answer or an error, delivered once.
  using Reply = std::function<void(Result<nlohmann::json>)>;

  // Persists through `store`, batching with `commit_options`; names models by `rates`.
  // `clock`, `store` and `rates` must outlive the ledger. Destruction waits until pending
  // commits are durable.
  Ledger(const Clock& clock, LedgerStore& store, const core::RateCard& rates, Options options,
         GroupCommitter::Options commit_options);
  ~Ledger();

  // Adds or replaces a budget (from the AgentBudget informer).
  void UpsertBudget(core::BudgetSpec spec) EXCLUDES(mu_);
  void RemoveBudget(const std::string& name) EXCLUDES(mu_);

  // Rebuilds balances and idempotency answers from durable entries, in order. Call after
  // the budgets are known and before serving. Entries naming unknown budgets still count
  // for their run. Duplicate idempotency keys count once.
  void Recover(const std::vector<LedgerEntry>& entries) EXCLUDES(mu_);

  // Decides a reservation. Answers at once: {id, decision, model, reason, expiresAt}.
  // Fails with kInvalidArgument for a negative estimate or empty key or model, kConflict
  // for a reused key with another request.
  Result<nlohmann::json> Reserve(const Caller& caller, const ReserveRequest& request)
      EXCLUDES(mu_);

  // Commits actual spend against reservation `id`, releasing its remainder. `reply` gets
  // {id, committed: true, cost[, late: true]} once durable, or kInvalidArgument,
  // kPermissionDenied (another run's reservation), kConflict, or kUnavailable (the store
  // is Options::max_pending_commits behind; nothing was counted) at once.
  void Commit(const Caller& caller, const std::string& id, const CommitRequest& request,
              Reply reply) EXCLUDES(mu_);

  // Releases a reservation unused: {id, released: true}; its request no longer counts
  // towards the run's maxRequests. Releasing an expired or unknown reservation succeeds
  // (nothing is held). kConflict if it was committed.
  Result<nlohmann::json> Release(const Caller& caller, const std::string& id,
                                 const ReleaseRequest& request) EXCLUDES(mu_);

  // A direct debit of a known cost; `reply` gets {id, committed: true} once durable, or
  // an error at once as Commit's.
  void RecordEvent(const Caller& caller, const EventRequest& request, Reply reply)
      EXCLUDES(mu_);

  // Expires reservations past their TTL (releasing what they hold) and forgets old
  // tombstones, idempotency answers and idle runs. Returns the reservations expired. Holds
  // the lock for time proportional to what is due (LedgerSizes::sweep_visits), not to
  // what the ledger holds: every map is also kept in the order its entries fall due.
  int Sweep() EXCLUDES(mu_);

  std::vector<BudgetSnapshot> Budgets() const EXCLUDES(mu_);
  // The budgets that charge the caller's run: those whose selectors match its attribution
  // and namespace (a budget that selects by model is left out).
  std::vector<BudgetSnapshot> BudgetsFor(const Caller& caller) const EXCLUDES(mu_);
  // Budget `name`'s snapshot; nullopt when the ledger does not have it.
  std::optional<BudgetSnapshot> Budget(const std::string& name) const EXCLUDES(mu_);
  // The caller's run: spend and envelope. kPermissionDenied for another run.
  Result<nlohmann::json> RunBalance(const Caller& caller, const std::string& run) const
      EXCLUDES(mu_);
  // What the ledger knows of a run; zero for a run it does not know (never seen, or idle
  // past run_idle_ttl).
  RunSummary Run(const std::string& run) const EXCLUDES(mu_);
  // Every AgentWorkload's spend and calls in the current calendar month (UTC), keyed
  // "namespace/name"; rebuilt by Recover().
  std::map<std::string, WorkloadSpend> WorkloadSpends() const EXCLUDES(mu_);
  LedgerStats stats() const EXCLUDES(mu_);
  std::map<SpendKey, SpendTotals> spend() const EXCLUDES(mu_);
  LedgerSizes sizes() const EXCLUDES(mu_);
  // How long idempotency answers are kept (Options::idempotency_ttl): what compaction
  // keeps key digests for.
  std::chrono::seconds idempotency_window() const { return options_.idempotency_ttl; }
  // The oldest instant whose spend the ledger still needs for its budgets' periods and
  // exports (RetentionStart): what compaction keeps totals from.
  core::SysSeconds RetainTotalsFrom() const EXCLUDES(mu_);
  // Entries handed to the store but not yet durable.
  size_t pending_commits() const { return committer_.pending(); }

 private:
  struct Hold {
    std::string budget;
    std::string key;
    int64_t amount = 0;
  };
  struct Reservation {
    enum class State { kActive, kExpired, kReleased };
    std::string id;
    std::string run;
    std::string namespace_name;
    core::Labels attribution;  // with the requested model
    std::string model;
    int64_t estimate_micros = 0;
    int64_t estimate_tokens = 0;
    std::vector<Hold> holds;
    State state = State::kActive;
    std::chrono::steady_clock::time_point expires;
    std::chrono::steady_clock::time_point forget_after;
    // Its place in in_flight_order_ while kActive, else in tombstone_order_.
    std::list<Reservation*>::iterator order;
  };
  struct RunState {
    explicit RunState(core::EnvelopeLimits limits) : envelope(std::move(limits)) {}
    core::RunEnvelope envelope;
    std::string ceiling;  // RunSummary::ceiling
    std::chrono::steady_clock::time_point last_active;
    std::list<std::string>::iterator idle_order;  // its place in run_order_
  };
  // A commit's or event's answer until the store has it: the first reply and replays wait
  // in `waiters`. Shared with the commit thread's callback, which completes it without
  // taking the ledger's lock (so acknowledging a batch never queues behind reservations).
  struct Durability {
    Mutex mu;
    bool durable GUARDED_BY(mu) = false;
    std::vector<Reply> waiters GUARDED_BY(mu);
    bool Durable() EXCLUDES(mu) {
      MutexLock lock(mu);
      return durable;
    }
  };
  // Memory: fixed size for commits' and events' answers (CompactAnswer), plus the
  // serialized JSON of reservations' and releases' answers.
  struct Answer {
    uint64_t hash = 0;
    CompactAnswer response;
    // Null for answers durable when made, and once Sweep() saw the store confirm it.
    std::shared_ptr<Durability> durability;
    std::chrono::steady_clock::time_point created;
  };
  // What is kept of a committed reservation until `tombstone_ttl` passed: enough to refuse
  // a second commit or a release of it, and nothing else (fixed size).
  struct CommittedTombstone {
    uint64_t run = 0;  // core::Fingerprint of the run
    std::chrono::steady_clock::time_point forget_after;
  };

  // Spend per run rebuilt by Recover(): what the run's envelope starts from when the run
  // is next seen. Each durable commit counts as one request (towards maxRequests).
  struct RecoveredRun {
    int64_t cost_micros = 0;
    int64_t tokens = 0;
    int64_t requests = 0;
    std::string ceiling;
    core::SysSeconds last;  // its latest entry
  };

  // What the store's AnswerIndex says of a commit's or event's key, and of the reservation
  // a commit or release names, when memory no longer holds them.
  struct StoredKeys {
    std::optional<StoredAnswer> answer;
    std::optional<std::string> committed_by;  // the run that committed the reservation
  };
  // Asks the store about `key` (a KeyDigestOf) when the ledger has an AnswerIndex, memory
  // does not hold it and the key filter may, and about `reservation` when memory holds
  // neither it nor its commit: takes the lock only to check, not while the store answers. Empty without an index. kUnavailable from the store.
  Result<StoredKeys> LookUpStored(std::optional<uint64_t> key, const std::string* reservation)
      EXCLUDES(mu_);
  // The first answer to stored key `scoped`, or kConflict when `hash` differs; remembered
  // in memory for the recent window. Counts the replay or conflict.
  Result<nlohmann::json> ReplayStoredLocked(uint64_t scoped, uint64_t hash,
                                            const StoredAnswer& stored) REQUIRES(mu_);
  // The fingerprint of the run that committed reservation `id`, by its tombstone or the
  // store; nullopt when not committed.
  std::optional<uint64_t> CommittedRunLocked(const std::string& id, const StoredKeys& stored)
      REQUIRES(mu_);
  // Recover() for one commit's or event's key: remembered in memory, or (with an
  // AnswerIndex) only added to the key filter.
  void RecoverKeyLocked(const LedgerEntry& entry, uint64_t scoped, uint64_t hash,
                        const std::string& id, const nlohmann::json& response) REQUIRES(mu_);
  // How long answers and committed tombstones stay in memory (see Options).
  std::chrono::seconds AnswerTtl() const;

  // The answer to a request whose idempotency key `scoped` was used before: the first
  // answer, or kConflict when `hash` differs. nullopt for a new key. Counts the replay or
  // conflict. Used where every answer is made durable at once (reserve, release).
  std::optional<Result<nlohmann::json>> ReplayLocked(uint64_t scoped, uint64_t hash)
      REQUIRES(mu_);
  // The same for operations answered once durable (commit, event).
  struct Replay {
    bool seen = false;  // the key was used before: the request is answered by the replay
    // The answer to give `reply` once the lock is dropped; nullopt when the first answer
    // is still waiting for the store and `reply` was queued to run with it.
    std::optional<Result<nlohmann::json>> answer;
  };
  Replay ReplayedLocked(uint64_t scoped, uint64_t hash, Reply& reply) REQUIRES(mu_);
  // Commit() and RecordEvent() under the lock. They return the answer to give at once,
  // after the lock is dropped (a replay or a refusal), or nullopt when `reply` was taken
  // to run once the entry is durable.
  std::optional<Result<nlohmann::json>> CommitWithLock(const Caller& caller,
                                                       const std::string& id,
                                                       const CommitRequest& request,
                                                       core::SysSeconds now,
                                                       const StoredKeys& stored, Reply& reply)
      EXCLUDES(mu_);
  std::optional<Result<nlohmann::json>> RecordEventWithLock(const Caller& caller,
                                                            const EventRequest& request,
                                                            core::SysSeconds now,
                                                            const StoredKeys& stored,
                                                            Reply& reply) EXCLUDES(mu_);
  Answer& RememberLocked(uint64_t scoped, uint64_t hash, nlohmann::json response)
      REQUIRES(mu_);
  RunState& RunLocked(const Caller& caller) REQUIRES(mu_);
  std::vector<BudgetState*> MatchingLocked(const core::Labels& attribution,
                                           const core::Labels& namespace_labels) REQUIRES(mu_);
  // Forgets `run`'s envelope once the operator reported that it ended, unless it still
  // holds reservations (then the idle sweep does).
  void EndRunLocked(const std::string& run, const std::string& kind) REQUIRES(mu_);
  // Applies committed spend to balances and returns the charges made.
  std::vector<Charge> SpendLocked(const std::vector<Hold>& holds, const core::Labels& attribution,
                                  const core::Labels& namespace_labels, bool use_holds,
                                  int64_t cost, int64_t tokens, core::SysSeconds at)
      REQUIRES(mu_);
  // Gives back what `reservation` holds on its budgets and its run. Unless `call_made` (a
  // commit; an expiry, which a late commit may follow), its request no longer counts
  // towards the run's maxRequests: a released reservation is a call never made.
  void ReleaseHoldsLocked(Reservation& reservation, bool call_made) REQUIRES(mu_);
  // Forgets the reservation at `found` (committed, or its tombstone aged out).
  void EraseReservationLocked(std::unordered_map<std::string, Reservation>::iterator found)
      REQUIRES(mu_);
  // Adds a durable entry's spend to spend_ and workload_spend_.
  void CountSpendLocked(const LedgerEntry& entry, int64_t input_tokens, int64_t output_tokens)
      REQUIRES(mu_);
  // Remembers that reservation `id` of `run` was committed (known or not), so a second
  // commit under another key is refused until the tombstone is forgotten.
  void MarkCommittedLocked(const std::string& id, const std::string& run) REQUIRES(mu_);
  // kUnavailable when Options::max_pending_commits entries wait for the store.
  Status AdmitPendingLocked() const REQUIRES(mu_);
  // Hands the entry to the group committer; the answer becomes durable with it.
  void PersistLocked(LedgerEntry entry, uint64_t scoped, Reply reply) REQUIRES(mu_);
  std::string NewIdLocked(const char* prefix) REQUIRES(mu_);

  const Clock& clock_;
  const core::RateCard& rates_;
  const Options options_;
  AnswerIndex* const index_;  // the store's, or nullptr

  mutable Mutex mu_;
  std::map<std::string, std::unique_ptr<BudgetState>> budgets_ GUARDED_BY(mu_);
  // Budgets matching an (attribution, namespace labels) pair; cleared whenever a budget
  // is added, changed or removed, and when it grows past kMatchCacheSize.
  static constexpr size_t kMatchCacheSize = 65536;
  std::unordered_map<std::string, std::vector<BudgetState*>> match_cache_ GUARDED_BY(mu_);
  std::unordered_map<std::string, std::unique_ptr<RunState>> runs_ GUARDED_BY(mu_);
  // The keys of runs_, least recently active first (RunLocked moves a run to the back).
  std::list<std::string> run_order_ GUARDED_BY(mu_);
  // Reservations in flight, expired or released (until their tombstone is forgotten).
  std::unordered_map<std::string, Reservation> reservations_ GUARDED_BY(mu_);
  // The same reservations in the order Sweep() handles them: those in flight by expiry
  // (every one lives reservation_ttl), the others by when their tombstone is forgotten.
  std::list<Reservation*> in_flight_order_ GUARDED_BY(mu_);
  std::list<Reservation*> tombstone_order_ GUARDED_BY(mu_);
  // Committed reservations by core::Fingerprint of their id (64 bits: two ids of one
  // tombstone window collide with odds below 1e-7 at a million commits).
  std::unordered_map<uint64_t, CommittedTombstone> committed_ GUARDED_BY(mu_);
  // (forget_after, fingerprint) of committed_ entries once their forget_after is known, in
  // that order; an entry whose tombstone has another forget_after by now is skipped.
  std::deque<std::pair<std::chrono::steady_clock::time_point, uint64_t>> committed_order_
      GUARDED_BY(mu_);
  // Keyed by a digest of (run, operation, key): KeyDigestOf for commits and events.
  std::unordered_map<uint64_t, Answer> answers_ GUARDED_BY(mu_);
  // Idempotency answers in creation order, for expiry.
  std::deque<std::pair<std::chrono::steady_clock::time_point, uint64_t>> answer_order_
      GUARDED_BY(mu_);
  // Answers that were waiting for the store when made, in creation order, with the
  // fingerprint of the reservation a commit names (0 for events): Sweep() drops their
  // Durability once the store confirmed them.
  std::deque<std::pair<uint64_t, uint64_t>> pending_order_ GUARDED_BY(mu_);
  // Commits' and events' keys of the idempotency window; only with an AnswerIndex.
  std::unique_ptr<KeyFilter> filter_ GUARDED_BY(mu_);
  std::mt19937_64 random_ GUARDED_BY(mu_);
  LedgerStats stats_ GUARDED_BY(mu_);
  std::map<SpendKey, SpendTotals> spend_ GUARDED_BY(mu_);
  WorkloadSpendTally workload_spend_ GUARDED_BY(mu_);
  // Runs rebuilt by Recover(), applied when the run is next seen.
  std::unordered_map<std::string, RecoveredRun> recovered_runs_ GUARDED_BY(mu_);
  // (last, run) of the runs Recover() kept, oldest first; runs seen since are skipped.
  std::deque<std::pair<core::SysSeconds, std::string>> recovered_order_ GUARDED_BY(mu_);
  size_t sweep_visits_ GUARDED_BY(mu_) = 0;  // LedgerSizes::sweep_visits

  // Last: destroyed first, so its final callbacks still find every member above.
  GroupCommitter committer_;
};

}  // namespace agentbudget::authority
