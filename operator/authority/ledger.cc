#include "operator/authority/ledger.h"

#include <algorithm>
#include <cstdio>

#include "core/money.h"
#include "core/run_envelope.h"
#include "core/time_format.h"
#include "operator/authority/ledger_retention.h"

namespace agentbudget::authority {
namespace {

using core::Money;
using SteadyTime = std::chrono::steady_clock::time_point;

// The key of a reservation's or release's answer; commits and events are keyed by
// KeyDigestOf, as the digests folded entries keep.
uint64_t Scoped(const std::string& run, const char* operation, const std::string& key) {
  return core::Fingerprint(run + '\x1f' + operation + '\x1f' + key);
}

core::SysSeconds Seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::floor<std::chrono::seconds>(t);
}

Error Conflict(std::string message) { return MakeError(ErrorCode::kConflict, std::move(message)); }

Error PermissionDenied(std::string message) {
  return MakeError(ErrorCode::kPermissionDenied, std::move(message));
}

Status ValidateKey(const std::string& key) {
  if (key.empty() || key.size() > 256) {
    return InvalidArgument("idempotencyKey must be 1..256 characters");
  }
  return OkStatus();
}

// A commit or direct debit: a valid key and no negative amounts.
Status ValidateSpend(const std::string& key, int64_t cost_micros, int64_t tokens) {
  if (auto valid = ValidateKey(key); !valid.ok()) {
    return valid;
  }
  if (cost_micros < 0 || tokens < 0) {
    return InvalidArgument("cost and tokens must not be negative");
  }
  return OkStatus();
}

// The ceiling a meter's "ceiling:<name>" event reports; "" for any other kind.
std::string ReportedCeiling(const std::string& kind) {
  return kind.starts_with(core::kCeilingEventPrefix)
             ? kind.substr(std::string_view(core::kCeilingEventPrefix).size())
             : "";
}

// Keeps in `kept` the first ceiling that ends runs (RunSummary::ceiling).
void KeepFirstCeiling(std::string& kept, const std::string& ceiling) {
  if (kept.empty() && core::StopsRun(ceiling)) {
    kept = ceiling;
  }
}

// A direct debit's kind as a metric label: one of kEventKinds, else "other".
std::string BoundedKind(const std::string& kind) {
  for (const char* known : kEventKinds) {
    if (kind == known) {
      return kind;
    }
  }
  return core::kOtherModel;
}

// The fields every durable entry of `caller`'s spend carries.
LedgerEntry NewEntry(LedgerEntry::Kind kind, const Caller& caller, std::string id,
                     const std::string& key, uint64_t hash, int64_t cost_micros, int64_t tokens,
                     core::SysSeconds at) {
  LedgerEntry entry;
  entry.kind = kind;
  entry.id = std::move(id);
  entry.run = caller.run;
  entry.idempotency_key = key;
  entry.request_hash = hash;
  entry.namespace_name = caller.namespace_name;
  entry.cost_micros = cost_micros;
  entry.tokens = tokens;
  entry.at = at;
  return entry;
}

}  // namespace

Ledger::Ledger(const Clock& clock, LedgerStore& store, const core::RateCard& rates,
               Options options, GroupCommitter::Options commit_options)
    : clock_(clock),
      rates_(rates),
      options_(options),
      index_(store.answer_index()),
      filter_(index_ == nullptr ? nullptr
                                : std::make_unique<KeyFilter>(options.idempotency_ttl,
                                                              options.key_filter_bits)),
      random_(std::random_device{}()),
      workload_spend_(rates),
      committer_(store, commit_options) {}

Ledger::~Ledger() = default;

void Ledger::UpsertBudget(core::BudgetSpec spec) {
  const core::SysSeconds now = Seconds(clock_.Now());
  MutexLock lock(mu_);
  match_cache_.clear();
  auto found = budgets_.find(spec.name);
  if (found == budgets_.end()) {
    std::string name = spec.name;
    budgets_.emplace(std::move(name), std::make_unique<BudgetState>(std::move(spec), now));
    return;
  }
  found->second->UpdateSpec(std::move(spec), now);
}

void Ledger::RemoveBudget(const std::string& name) {
  MutexLock lock(mu_);
  match_cache_.clear();
  budgets_.erase(name);
}

std::string Ledger::NewIdLocked(const char* prefix) {
  char text[40];
  std::snprintf(text, sizeof(text), "%s%016llx%016llx", prefix,
                static_cast<unsigned long long>(random_()),
                static_cast<unsigned long long>(random_()));
  return text;
}

std::optional<Result<nlohmann::json>> Ledger::ReplayLocked(uint64_t scoped,
                                                           uint64_t hash) {
  auto found = answers_.find(scoped);
  if (found == answers_.end()) {
    return std::nullopt;
  }
  if (found->second.hash != hash) {
    ++stats_.conflicts;
    return Conflict("idempotencyKey was already used with a different request");
  }
  ++stats_.replays;
  return found->second.response.ToJson();
}

Ledger::Replay Ledger::ReplayedLocked(uint64_t scoped, uint64_t hash, Reply& reply) {
  if (auto found = answers_.find(scoped);
      found != answers_.end() && found->second.hash == hash && found->second.durability) {
    Durability& durability = *found->second.durability;
    MutexLock waiting(durability.mu);
    if (!durability.durable) {
      ++stats_.replays;
      durability.waiters.push_back(std::move(reply));
      return Replay{true, std::nullopt};
    }
  }
  std::optional<Result<nlohmann::json>> answer = ReplayLocked(scoped, hash);
  if (!answer) {
    return Replay{};
  }
  return Replay{true, std::move(answer)};
}

std::chrono::seconds Ledger::AnswerTtl() const {
  return index_ == nullptr ? options_.idempotency_ttl : options_.recent_answers_ttl;
}

Result<Ledger::StoredKeys> Ledger::LookUpStored(std::optional<uint64_t> key,
                                                const std::string* reservation) {
  StoredKeys stored;
  if (index_ == nullptr) {
    return stored;
  }
  bool ask_key = false;
  bool ask_reservation = false;
  {
    MutexLock lock(mu_);
    ask_key = key && !answers_.contains(*key) && filter_->MayContain(*key);
    if (reservation != nullptr) {
      // A reservation in flight was not committed yet. A reservation memory holds neither
      // in flight nor as committed is rare (a resend after the recent window, one made
      // before a restart): the store is asked without the filter, which holds only keys.
      ask_reservation = !committed_.contains(core::Fingerprint(*reservation)) &&
                        !reservations_.contains(*reservation);
    }
  }
  if (ask_key) {
    auto answer = index_->FindAnswer(*key);
    if (!answer.ok()) {
      return std::move(answer).error();
    }
    stored.answer = std::move(*answer);
  }
  if (ask_reservation) {
    auto committed_by = index_->FindCommit(*reservation);
    if (!committed_by.ok()) {
      return std::move(committed_by).error();
    }
    stored.committed_by = std::move(*committed_by);
  }
  return stored;
}

Result<nlohmann::json> Ledger::ReplayStoredLocked(uint64_t scoped, uint64_t hash,
                                                  const StoredAnswer& stored) {
  if (stored.request_hash != hash) {
    ++stats_.conflicts;
    return Conflict("idempotencyKey was already used with a different request");
  }
  ++stats_.replays;
  RememberLocked(scoped, hash, stored.response);
  return stored.response;
}

std::optional<uint64_t> Ledger::CommittedRunLocked(const std::string& id,
                                                   const StoredKeys& stored) {
  if (auto committed = committed_.find(core::Fingerprint(id)); committed != committed_.end()) {
    return committed->second.run;
  }
  if (stored.committed_by) {
    return core::Fingerprint(*stored.committed_by);
  }
  return std::nullopt;
}

Ledger::Answer& Ledger::RememberLocked(uint64_t scoped, uint64_t hash,
                                       nlohmann::json response) {
  const SteadyTime now = clock_.Monotonic();
  Answer& answer = answers_[scoped];
  answer.hash = hash;
  answer.response = CompactAnswer(response);
  answer.created = now;
  answer_order_.emplace_back(now, scoped);
  return answer;
}

Ledger::RunState& Ledger::RunLocked(const Caller& caller) {
  auto& slot = runs_[caller.run];
  if (!slot) {
    core::EnvelopeLimits limits = caller.run_limits;
    // The meter guards against retry loops itself; the authority sees no request bodies.
    limits.max_identical_requests.reset();
    slot = std::make_unique<RunState>(std::move(limits));
    slot->idle_order = run_order_.insert(run_order_.end(), caller.run);
    if (auto recovered = recovered_runs_.find(caller.run); recovered != recovered_runs_.end()) {
      slot->envelope.RecordSpend(Money::FromMicros(recovered->second.cost_micros),
                                 recovered->second.tokens);
      slot->envelope.RecordRequests(recovered->second.requests);
      slot->ceiling = recovered->second.ceiling;
      recovered_runs_.erase(recovered);
    }
  } else {
    run_order_.splice(run_order_.end(), run_order_, slot->idle_order);
  }
  slot->last_active = clock_.Monotonic();
  return *slot;
}

std::vector<BudgetState*> Ledger::MatchingLocked(const core::Labels& attribution,
                                                 const core::Labels& namespace_labels) {
  std::string key;
  for (const auto* labels : {&attribution, &namespace_labels}) {
    for (const auto& [name, value] : *labels) {
      key += name;
      key += '\x1f';
      key += value;
      key += '\x1e';
    }
    key += '\x1d';
  }
  if (auto cached = match_cache_.find(key); cached != match_cache_.end()) {
    return cached->second;
  }
  std::vector<BudgetState*> matching;
  for (auto& [name, budget] : budgets_) {
    if (budget->spec().Matches(attribution, namespace_labels)) {
      matching.push_back(budget.get());
    }
  }
  if (match_cache_.size() >= kMatchCacheSize) {
    match_cache_.clear();
  }
  match_cache_.emplace(std::move(key), matching);
  return matching;
}

Result<nlohmann::json> Ledger::Reserve(const Caller& caller, const ReserveRequest& request) {
  if (auto valid = ValidateKey(request.idempotency_key); !valid.ok()) {
    return std::move(valid).error();
  }
  if (request.model.empty() || request.model.size() > 256) {
    return InvalidArgument("model must be 1..256 characters");
  }
  if (request.estimate_micros < 0 || request.estimate_tokens < 0) {
    return InvalidArgument("estimate must not be negative");
  }
  const core::SysSeconds now = Seconds(clock_.Now());
  MutexLock lock(mu_);
  const uint64_t scoped = Scoped(caller.run, "reserve", request.idempotency_key);
  if (auto replayed = ReplayLocked(scoped, request.request_hash)) {
    return std::move(*replayed);
  }
  core::Labels attribution = caller.attribution;
  attribution["model"] = rates_.BoundedId(request.model);
  std::vector<BudgetState*> matching = MatchingLocked(attribution, caller.namespace_labels);
  core::DecisionRequest decision_request;
  decision_request.priority = caller.priority;
  decision_request.model = request.model;
  decision_request.fallback = caller.fallback_models;
  decision_request.estimate_micros = request.estimate_micros;
  decision_request.estimate_tokens = request.estimate_tokens;
  std::vector<std::string> keys;
  for (BudgetState* budget : matching) {
    budget->Roll(now);
    keys.push_back(budget->KeyFor(attribution));
    decision_request.envelopes.push_back(budget->View(keys.back(), now));
  }
  core::DecisionOutcome outcome = core::Decide(decision_request);
  RunState& run = RunLocked(caller);
  if (outcome.decision != core::Decision::kDeny) {
    core::EnvelopeDecision envelope = run.envelope.Reserve(
        0, Money::FromMicros(request.estimate_micros), request.estimate_tokens);
    if (!envelope.allowed) {
      if (!request.ahead) {
        KeepFirstCeiling(run.ceiling, envelope.ceiling);
      }
      outcome.decision = core::Decision::kDeny;
      outcome.model = request.model;
      outcome.reason = std::move(envelope.reason);
    }
  }
  stats_.observed_denials += static_cast<int64_t>(std::count_if(
      outcome.observed.begin(), outcome.observed.end(),
      [](const std::string& note) { return note.rfind("would deny", 0) == 0; }));
  const std::string id = NewIdLocked("r-");
  const core::SysSeconds expires_at = now + options_.reservation_ttl;
  if (outcome.decision == core::Decision::kDeny) {
    ++stats_.denied;
  } else {
    ++(outcome.decision == core::Decision::kAllow ? stats_.allowed : stats_.degraded);
    Reservation reservation;
    reservation.id = id;
    reservation.run = caller.run;
    reservation.namespace_name = caller.namespace_name;
    reservation.attribution = attribution;
    reservation.model = outcome.model;
    reservation.estimate_micros = request.estimate_micros;
    reservation.estimate_tokens = request.estimate_tokens;
    for (size_t i = 0; i < matching.size(); ++i) {
      const int64_t amount = matching[i]->AmountOf(request.estimate_micros, request.estimate_tokens);
      matching[i]->Hold(keys[i], amount);
      reservation.holds.push_back({matching[i]->spec().name, keys[i], amount});
    }
    reservation.expires = clock_.Monotonic() + options_.reservation_ttl;
    if (auto [held, added] = reservations_.emplace(id, std::move(reservation)); added) {
      held->second.order = in_flight_order_.insert(in_flight_order_.end(), &held->second);
    }
  }
  nlohmann::json response = {{"id", id},
                             {"decision", core::DecisionName(outcome.decision)},
                             {"model", outcome.model},
                             {"reason", outcome.reason},
                             {"expiresAt", core::FormatRfc3339(expires_at)}};
  if (!outcome.observed.empty()) {
    response["observed"] = outcome.observed;
  }
  RememberLocked(scoped, request.request_hash, response);
  return response;
}

void Ledger::EraseReservationLocked(
    std::unordered_map<std::string, Reservation>::iterator found) {
  Reservation& reservation = found->second;
  (reservation.state == Reservation::State::kActive ? in_flight_order_ : tombstone_order_)
      .erase(reservation.order);
  reservations_.erase(found);
}

void Ledger::ReleaseHoldsLocked(Reservation& reservation, bool call_made) {
  for (const Hold& hold : reservation.holds) {
    if (auto budget = budgets_.find(hold.budget); budget != budgets_.end()) {
      budget->second->Unhold(hold.key, hold.amount);
    }
  }
  if (auto run = runs_.find(reservation.run); run != runs_.end()) {
    if (call_made) {
      run->second->envelope.Release(Money::FromMicros(reservation.estimate_micros),
                                    reservation.estimate_tokens);
    } else {
      run->second->envelope.ReleaseUnsent(Money::FromMicros(reservation.estimate_micros),
                                          reservation.estimate_tokens);
    }
  }
}

std::vector<Charge> Ledger::SpendLocked(const std::vector<Hold>& holds,
                                        const core::Labels& attribution,
                                        const core::Labels& namespace_labels, bool use_holds,
                                        int64_t cost, int64_t tokens, core::SysSeconds at) {
  std::vector<Charge> charges;
  if (use_holds) {
    for (const Hold& hold : holds) {
      if (auto budget = budgets_.find(hold.budget); budget != budgets_.end()) {
        budget->second->Roll(at);
        budget->second->Spend(hold.key, budget->second->AmountOf(cost, tokens), at);
        charges.push_back({hold.budget, hold.key});
      }
    }
    return charges;
  }
  for (BudgetState* budget : MatchingLocked(attribution, namespace_labels)) {
    budget->Roll(at);
    const std::string key = budget->KeyFor(attribution);
    budget->Spend(key, budget->AmountOf(cost, tokens), at);
    charges.push_back({budget->spec().name, key});
  }
  return charges;
}

Status Ledger::AdmitPendingLocked() const {
  if (const size_t pending = committer_.pending(); pending >= options_.max_pending_commits) {
    return Unavailable("the ledger's store is " + std::to_string(pending) +
                       " commits behind; resend later");
  }
  return OkStatus();
}

void Ledger::PersistLocked(LedgerEntry entry, uint64_t scoped, Reply reply) {
  Answer& answer = RememberLocked(scoped, entry.request_hash, entry.Response());
  answer.durability = std::make_shared<Durability>();
  {
    // Shared with the callback below only once Submit() has it.
    MutexLock waiting(answer.durability->mu);
    answer.durability->waiters.push_back(std::move(reply));
  }
  pending_order_.emplace_back(
      scoped, entry.kind == LedgerEntry::Kind::kCommit ? core::Fingerprint(entry.id) : 0);
  if (filter_) {
    filter_->Add(scoped, clock_.Monotonic());
  }
  committer_.Submit(std::move(entry), [durability = answer.durability,
                                       response = answer.response.ToJson()] {
    std::vector<Reply> waiters;
    {
      MutexLock lock(durability->mu);
      durability->durable = true;
      waiters.swap(durability->waiters);
    }
    for (Reply& waiter : waiters) {
      waiter(response);
    }
  });
}

void Ledger::Commit(const Caller& caller, const std::string& id, const CommitRequest& request,
                    Reply reply) {
  Status valid = ValidateSpend(request.idempotency_key, request.cost_micros, request.tokens);
  if (valid.ok() && (id.empty() || id.size() > 64)) {
    valid = InvalidArgument("reservation id must be 1..64 characters");
  }
  if (!valid.ok()) {
    reply(std::move(valid).error());
    return;
  }
  const core::SysSeconds now = Seconds(clock_.Now());
  auto stored = LookUpStored(
      KeyDigestOf(caller.run, LedgerEntry::Kind::kCommit, request.idempotency_key), &id);
  if (!stored.ok()) {
    reply(std::move(stored).error());
    return;
  }
  // Replays and errors are answered after the lock is dropped.
  if (auto answer = CommitWithLock(caller, id, request, now, *stored, reply)) {
    reply(std::move(*answer));
  }
}

std::optional<Result<nlohmann::json>> Ledger::CommitWithLock(const Caller& caller,
                                                             const std::string& id,
                                                             const CommitRequest& request,
                                                             core::SysSeconds now,
                                                             const StoredKeys& stored,
                                                             Reply& reply) {
  MutexLock lock(mu_);
  const uint64_t scoped = KeyDigestOf(caller.run, LedgerEntry::Kind::kCommit, request.idempotency_key);
  if (Replay replay = ReplayedLocked(scoped, request.request_hash, reply); replay.seen) {
    return std::move(replay.answer);
  }
  if (stored.answer) {
    return ReplayStoredLocked(scoped, request.request_hash, *stored.answer);
  }
  if (auto committed = CommittedRunLocked(id, stored)) {
    if (*committed != core::Fingerprint(caller.run)) {
      return Result<nlohmann::json>(
          PermissionDenied("reservation " + id + " belongs to another run"));
    }
    ++stats_.conflicts;
    return Result<nlohmann::json>(
        Conflict("reservation " + id + " was already committed under another key"));
  }
  auto found = reservations_.find(id);
  Reservation* reservation = found == reservations_.end() ? nullptr : &found->second;
  if (reservation != nullptr && reservation->run != caller.run) {
    return Result<nlohmann::json>(
        PermissionDenied("reservation " + id + " belongs to another run"));
  }
  if (Status admitted = AdmitPendingLocked(); !admitted.ok()) {
    return Result<nlohmann::json>(std::move(admitted).error());
  }
  RunState& run = RunLocked(caller);
  LedgerEntry entry = NewEntry(LedgerEntry::Kind::kCommit, caller, id, request.idempotency_key,
                               request.request_hash, request.cost_micros, request.tokens, now);
  entry.model = request.model.empty() && reservation ? reservation->model : request.model;
  const bool active = reservation != nullptr && reservation->state == Reservation::State::kActive;
  if (active) {
    ReleaseHoldsLocked(*reservation, /*call_made=*/true);
    entry.attribution = reservation->attribution;
    entry.charges = SpendLocked(reservation->holds, {}, {}, true, request.cost_micros,
                                request.tokens, now);
  } else {
    // Expired, released or unknown (issued before a restart): still recorded.
    entry.late = true;
    ++stats_.late_commits;
    entry.attribution = reservation ? reservation->attribution : caller.attribution;
    entry.attribution["model"] = rates_.BoundedId(entry.model);
    entry.charges = SpendLocked({}, entry.attribution, caller.namespace_labels, false,
                                request.cost_micros, request.tokens, now);
  }
  run.envelope.RecordSpend(Money::FromMicros(request.cost_micros), request.tokens);
  if (reservation == nullptr || reservation->state == Reservation::State::kReleased) {
    // Reserved by an earlier process (its request counts here, as Recover() counts it), or
    // released, which gave its request back: a call made after all counts once more.
    run.envelope.RecordRequests(1);
  }
  MarkCommittedLocked(id, caller.run);
  ++stats_.commits;
  entry.token_types = request.token_types;
  CountSpendLocked(entry, request.input_tokens, request.output_tokens);
  PersistLocked(std::move(entry), scoped, std::move(reply));
  return std::nullopt;
}

void Ledger::CountSpendLocked(const LedgerEntry& entry, int64_t input_tokens,
                              int64_t output_tokens) {
  workload_spend_.Add(entry);
  if (entry.IsReport()) {
    return;  // no spend for the metrics
  }
  auto label = [&](const char* name) {
    auto found = entry.attribution.find(name);
    return found == entry.attribution.end() ? std::string() : found->second;
  };
  const std::string model = entry.kind == LedgerEntry::Kind::kEvent ? BoundedKind(entry.model)
                                                                     : rates_.BoundedId(entry.model);
  SpendTotals& totals =
      spend_[SpendKey{entry.namespace_name, label("team"), label("workflow"), model}];
  totals.cost_micros = core::SaturatingAdd(totals.cost_micros, entry.cost_micros);
  totals.input_tokens = core::SaturatingAdd(totals.input_tokens, input_tokens);
  totals.output_tokens = core::SaturatingAdd(totals.output_tokens, output_tokens);
}

void Ledger::MarkCommittedLocked(const std::string& id, const std::string& run) {
  if (auto found = reservations_.find(id); found != reservations_.end()) {
    EraseReservationLocked(found);
  }
  const SteadyTime now = clock_.Monotonic();
  const uint64_t fingerprint = core::Fingerprint(id);
  // With an AnswerIndex, kept until the commit is durable (then the store answers), and
  // AnswerTtl() more from then on (Sweep).
  const SteadyTime forget_after =
      index_ == nullptr ? now + options_.tombstone_ttl : SteadyTime::max();
  committed_[fingerprint] = {core::Fingerprint(run), forget_after};
  if (index_ == nullptr) {
    committed_order_.emplace_back(forget_after, fingerprint);
  }
}

Result<nlohmann::json> Ledger::Release(const Caller& caller, const std::string& id,
                                       const ReleaseRequest& request) {
  if (auto valid = ValidateKey(request.idempotency_key); !valid.ok()) {
    return std::move(valid).error();
  }
  auto stored = LookUpStored(std::nullopt, &id);
  if (!stored.ok()) {
    return std::move(stored).error();
  }
  MutexLock lock(mu_);
  const uint64_t scoped = Scoped(caller.run, "release", request.idempotency_key);
  if (auto replayed = ReplayLocked(scoped, request.request_hash)) {
    return std::move(*replayed);
  }
  if (auto committed = CommittedRunLocked(id, *stored)) {
    if (*committed != core::Fingerprint(caller.run)) {
      return PermissionDenied("reservation " + id + " belongs to another run");
    }
    return Conflict("reservation " + id + " was already committed");
  }
  if (auto found = reservations_.find(id); found != reservations_.end()) {
    Reservation& reservation = found->second;
    if (reservation.run != caller.run) {
      return PermissionDenied("reservation " + id + " belongs to another run");
    }
    if (reservation.state == Reservation::State::kActive) {
      ReleaseHoldsLocked(reservation, /*call_made=*/false);
      reservation.state = Reservation::State::kReleased;
      reservation.forget_after = clock_.Monotonic() + options_.tombstone_ttl;
      tombstone_order_.splice(tombstone_order_.end(), in_flight_order_, reservation.order);
    }
  }
  nlohmann::json response = {{"id", id}, {"released", true}};
  RememberLocked(scoped, request.request_hash, response);
  return response;
}

void Ledger::RecordEvent(const Caller& caller, const EventRequest& request, Reply reply) {
  if (Status valid = ValidateSpend(request.idempotency_key, request.cost_micros, request.tokens);
      !valid.ok()) {
    reply(std::move(valid).error());
    return;
  }
  const core::SysSeconds now = Seconds(clock_.Now());
  auto stored = LookUpStored(
      KeyDigestOf(caller.run, LedgerEntry::Kind::kEvent, request.idempotency_key), nullptr);
  if (!stored.ok()) {
    reply(std::move(stored).error());
    return;
  }
  // Replays are answered after the lock is dropped.
  if (auto answer = RecordEventWithLock(caller, request, now, *stored, reply)) {
    reply(std::move(*answer));
  }
}

std::optional<Result<nlohmann::json>> Ledger::RecordEventWithLock(const Caller& caller,
                                                                  const EventRequest& request,
                                                                  core::SysSeconds now,
                                                                  const StoredKeys& stored,
                                                                  Reply& reply) {
  MutexLock lock(mu_);
  const uint64_t scoped = KeyDigestOf(caller.run, LedgerEntry::Kind::kEvent, request.idempotency_key);
  if (Replay replay = ReplayedLocked(scoped, request.request_hash, reply); replay.seen) {
    return std::move(replay.answer);
  }
  if (stored.answer) {
    return ReplayStoredLocked(scoped, request.request_hash, *stored.answer);
  }
  if (Status admitted = AdmitPendingLocked(); !admitted.ok()) {
    return Result<nlohmann::json>(std::move(admitted).error());
  }
  RunState& run = RunLocked(caller);
  LedgerEntry entry = NewEntry(LedgerEntry::Kind::kEvent, caller, NewIdLocked("e-"),
                               request.idempotency_key, request.request_hash, request.cost_micros,
                               request.tokens, now);
  entry.attribution = caller.attribution;
  entry.model = request.kind;
  entry.charges = SpendLocked({}, entry.attribution, caller.namespace_labels, false,
                              request.cost_micros, request.tokens, now);
  run.envelope.RecordSpend(Money::FromMicros(request.cost_micros), request.tokens);
  KeepFirstCeiling(run.ceiling, ReportedCeiling(request.kind));
  ++stats_.events;
  CountSpendLocked(entry, 0, 0);
  PersistLocked(std::move(entry), scoped, std::move(reply));
  EndRunLocked(caller.run, request.kind);
  return std::nullopt;
}

void Ledger::EndRunLocked(const std::string& run, const std::string& kind) {
  const std::string_view prefix = kOutcomeReport;
  const std::string_view outcome =
      kind.starts_with(prefix) ? std::string_view(kind).substr(prefix.size()) : "";
  if (outcome != "Succeeded" && outcome != "Failed") {
    return;  // not the end of the run (or CI's later judgement of it)
  }
  auto found = runs_.find(run);
  if (found == runs_.end()) {
    return;
  }
  const core::EnvelopeTotals& totals = found->second->envelope.totals();
  if (totals.reserved.micros() == 0 && totals.reserved_tokens == 0) {
    run_order_.erase(found->second->idle_order);
    runs_.erase(found);
  }
}

void Ledger::Recover(const std::vector<LedgerEntry>& entries) {
  const core::SysSeconds now = Seconds(clock_.Now());
  MutexLock lock(mu_);
  for (auto& [name, budget] : budgets_) {
    budget->Roll(now);
  }
  FirstCopies first_copies;
  for (const LedgerEntry& entry : entries) {
    const bool commit = entry.kind == LedgerEntry::Kind::kCommit;
    if (!first_copies.Counts(entry)) {
      continue;  // appended twice (a retried batch): count once
    }
    for (const Charge& charge : entry.charges) {
      if (auto budget = budgets_.find(charge.budget); budget != budgets_.end()) {
        budget->second->Spend(charge.key, budget->second->AmountOf(entry.cost_micros, entry.tokens),
                              entry.at);
      }
    }
    workload_spend_.Add(entry);
    RecoveredRun& run = recovered_runs_[entry.run];
    run.last = std::max(run.last, entry.at);
    run.cost_micros = core::SaturatingAdd(run.cost_micros, entry.cost_micros);
    run.tokens = core::SaturatingAdd(run.tokens, entry.tokens);
    if (commit) {
      run.requests = core::SaturatingAdd(run.requests, std::max<int64_t>(entry.folded, 1));
    } else {
      KeepFirstCeiling(run.ceiling, ReportedCeiling(entry.model));
    }
    if (entry.folded > 0) {
      // Folded totals answer the keys they still hold digests of.
      for (const KeyDigest& digest : entry.digests) {
        RecoverKeyLocked(entry, digest.key, digest.request_hash, digest.id,
                         entry.Response(digest));
      }
      continue;
    }
    RecoverKeyLocked(entry, KeyDigestOf(entry.run, entry.kind, entry.idempotency_key),
                     entry.request_hash, entry.id, entry.Response());
  }
  // Runs idle past the TTL are not remembered, as Sweep() would forget them.
  std::erase_if(recovered_runs_, [&](const auto& run) {
    return run.second.last + options_.run_idle_ttl <= now;
  });
  recovered_order_.clear();
  for (const auto& [run, recovered] : recovered_runs_) {
    recovered_order_.emplace_back(recovered.last, run);
  }
  std::sort(recovered_order_.begin(), recovered_order_.end());
}

void Ledger::RecoverKeyLocked(const LedgerEntry& entry, uint64_t scoped, uint64_t hash,
                              const std::string& id, const nlohmann::json& response) {
  const bool commit = entry.kind == LedgerEntry::Kind::kCommit;
  if (filter_) {
    // The store answers the key (the filter says to ask it) and the reservation.
    filter_->Add(scoped, clock_.Monotonic());
    return;
  }
  RememberLocked(scoped, hash, response);
  if (commit) {
    MarkCommittedLocked(id, entry.run);
  }
}

int Ledger::Sweep() {
  MutexLock lock(mu_);
  // Read under the lock: every expiry order is then appended to in time order.
  const SteadyTime now = clock_.Monotonic();
  size_t visits = 0;
  int expired = 0;
  while (!in_flight_order_.empty() && in_flight_order_.front()->expires <= now) {
    Reservation& reservation = *in_flight_order_.front();
    // A meter may still commit it late: its request keeps counting.
    ReleaseHoldsLocked(reservation, /*call_made=*/true);
    reservation.state = Reservation::State::kExpired;
    reservation.forget_after = now + options_.tombstone_ttl;
    tombstone_order_.splice(tombstone_order_.end(), in_flight_order_, reservation.order);
    ++expired;
  }
  stats_.expired += expired;
  visits += static_cast<size_t>(expired);
  while (!tombstone_order_.empty() && tombstone_order_.front()->forget_after <= now) {
    EraseReservationLocked(reservations_.find(tombstone_order_.front()->id));
    ++visits;
  }
  while (!committed_order_.empty() && committed_order_.front().first <= now) {
    const auto [forget_after, fingerprint] = committed_order_.front();
    committed_order_.pop_front();
    ++visits;
    if (auto tombstone = committed_.find(fingerprint);
        tombstone != committed_.end() && tombstone->second.forget_after == forget_after) {
      committed_.erase(tombstone);
    }
  }
  // The store confirms in submission order (group commit): stop at the first still waiting.
  while (!pending_order_.empty()) {
    const auto [scoped, reservation] = pending_order_.front();
    auto found = answers_.find(scoped);
    if (found != answers_.end() && found->second.durability) {
      if (!found->second.durability->Durable()) {
        break;
      }
      found->second.durability.reset();
      if (index_ != nullptr) {
        // Durable now, so the store answers it: memory keeps it AnswerTtl() from here.
        found->second.created = now;
        answer_order_.emplace_back(now, scoped);
        if (auto tombstone = committed_.find(reservation); tombstone != committed_.end()) {
          tombstone->second.forget_after = now + AnswerTtl();
          committed_order_.emplace_back(tombstone->second.forget_after, reservation);
        }
      }
    }
    pending_order_.pop_front();
    ++visits;
  }
  while (!answer_order_.empty() && answer_order_.front().first + AnswerTtl() <= now) {
    const auto [created, scoped] = answer_order_.front();
    answer_order_.pop_front();
    ++visits;
    auto found = answers_.find(scoped);
    if (found == answers_.end() || found->second.created != created) {
      continue;
    }
    if (found->second.durability && !found->second.durability->Durable()) {
      // Still waiting for the store: keep it until it is durable and aged.
      answer_order_.emplace_back(now, scoped);
      found->second.created = now;
      continue;
    }
    answers_.erase(found);
  }
  // Idle runs still holding reservations are kept (and looked at again next time).
  for (auto it = run_order_.begin(); it != run_order_.end();) {
    auto found = runs_.find(*it);
    const RunState& run = *found->second;
    if (run.last_active + options_.run_idle_ttl > now) {
      break;
    }
    ++visits;
    const auto& totals = run.envelope.totals();
    if (totals.reserved.micros() == 0 && totals.reserved_tokens == 0) {
      runs_.erase(found);
      it = run_order_.erase(it);
    } else {
      ++it;
    }
  }
  const core::SysSeconds wall = Seconds(clock_.Now());
  while (!recovered_order_.empty() &&
         recovered_order_.front().first + options_.run_idle_ttl <= wall) {
    // Gone already when the run was seen again since.
    recovered_runs_.erase(recovered_order_.front().second);
    recovered_order_.pop_front();
    ++visits;
  }
  sweep_visits_ = visits;
  return expired;
}

std::vector<BudgetSnapshot> Ledger::Budgets() const {
  const core::SysSeconds now = Seconds(clock_.Now());
  MutexLock lock(mu_);
  std::vector<BudgetSnapshot> snapshots;
  snapshots.reserve(budgets_.size());
  for (const auto& [name, budget] : budgets_) {
    budget->Roll(now);
    snapshots.push_back(budget->Snapshot(now));
  }
  return snapshots;
}

std::vector<BudgetSnapshot> Ledger::BudgetsFor(const Caller& caller) const {
  const core::SysSeconds now = Seconds(clock_.Now());
  MutexLock lock(mu_);
  std::vector<BudgetSnapshot> snapshots;
  for (const auto& [name, budget] : budgets_) {
    if (budget->spec().Matches(caller.attribution, caller.namespace_labels)) {
      budget->Roll(now);
      snapshots.push_back(budget->Snapshot(now));
    }
  }
  return snapshots;
}

std::optional<BudgetSnapshot> Ledger::Budget(const std::string& name) const {
  const core::SysSeconds now = Seconds(clock_.Now());
  MutexLock lock(mu_);
  const auto found = budgets_.find(name);
  if (found == budgets_.end()) {
    return std::nullopt;
  }
  found->second->Roll(now);
  return found->second->Snapshot(now);
}

Result<nlohmann::json> Ledger::RunBalance(const Caller& caller, const std::string& run) const {
  if (run != caller.run) {
    return PermissionDenied("a pod may read only its own run");
  }
  const RunSummary summary = Run(run);
  const core::EnvelopeTotals& totals = summary.totals;
  nlohmann::json balance = {{"run", run}};
  if (!summary.ceiling.empty()) {
    balance["ceilingReached"] = summary.ceiling;
  }
  balance["spent"] = totals.spent.ToString();
  balance["reserved"] = totals.reserved.ToString();
  balance["tokens"] = totals.tokens;
  balance["requests"] = totals.requests;
  nlohmann::json limits = nlohmann::json::object();
  if (caller.run_limits.max_cost) {
    limits["maxCost"] = caller.run_limits.max_cost->ToString();
  }
  if (caller.run_limits.max_tokens) {
    limits["maxTokens"] = *caller.run_limits.max_tokens;
  }
  if (caller.run_limits.max_requests) {
    limits["maxRequests"] = *caller.run_limits.max_requests;
  }
  balance["limits"] = std::move(limits);
  return balance;
}

RunSummary Ledger::Run(const std::string& run) const {
  MutexLock lock(mu_);
  RunSummary summary;
  if (auto found = runs_.find(run); found != runs_.end()) {
    summary.totals = found->second->envelope.totals();
    summary.ceiling = found->second->ceiling;
  } else if (auto recovered = recovered_runs_.find(run); recovered != recovered_runs_.end()) {
    summary.totals.spent = Money::FromMicros(recovered->second.cost_micros);
    summary.totals.tokens = recovered->second.tokens;
    summary.totals.requests = recovered->second.requests;
    summary.ceiling = recovered->second.ceiling;
  }
  return summary;
}

std::map<std::string, WorkloadSpend> Ledger::WorkloadSpends() const {
  MutexLock lock(mu_);
  return workload_spend_.Current(Seconds(clock_.Now()));
}

core::SysSeconds Ledger::RetainTotalsFrom() const {
  const core::SysSeconds now = Seconds(clock_.Now());
  std::vector<core::BudgetSpec> specs;
  {
    MutexLock lock(mu_);
    for (const auto& [name, budget] : budgets_) {
      specs.push_back(budget->spec());
    }
  }
  return RetentionStart(specs, now);
}

LedgerStats Ledger::stats() const {
  MutexLock lock(mu_);
  return stats_;
}

std::map<SpendKey, SpendTotals> Ledger::spend() const {
  MutexLock lock(mu_);
  return spend_;
}

LedgerSizes Ledger::sizes() const {
  MutexLock lock(mu_);
  LedgerSizes sizes;
  sizes.runs = runs_.size();
  sizes.recovered_runs = recovered_runs_.size();
  sizes.reservations = reservations_.size() + committed_.size();
  sizes.committed = committed_.size();
  sizes.answers = answers_.size();
  sizes.match_cache = match_cache_.size();
  sizes.spend_keys = spend_.size();
  sizes.sweep_visits = sweep_visits_;
  return sizes;
}

}  // namespace agentbudget::authority
