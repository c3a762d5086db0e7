#include "meter/enforcer.h"

#include <algorithm>
#include <random>
#include <variant>

#include "common/log.h"
#include "common/thread_priority.h"
#include "core/json_field.h"

namespace agentbudget::meter {
namespace {

using nlohmann::json;

std::string RandomHex() {
  std::random_device device;
  std::uniform_int_distribution<uint64_t> dist;
  const uint64_t value = (static_cast<uint64_t>(device()) << 32) ^ device() ^ dist(device);
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(value));
  return text;
}

// Spool entries are commits, except those whose "type" is kCeilingType: a local denial's
// report that a run reached a ceiling.
constexpr char kCeilingType[] = "ceiling";

using core::StringField;

bool IsCeilingEntry(const json& entry) { return StringField(entry, "type") == kCeilingType; }

bool Unreachable(const Error& error) {
  return IsRetryable(error.code) || error.code == ErrorCode::kUnauthenticated ||
         error.code == ErrorCode::kPermissionDenied || error.code == ErrorCode::kInternal;
}

// Whether a spooled entry the authority refused with `code` is sent again later: a refused
// token may be renewed, a 403 lifted.
bool Retryable(ErrorCode code) {
  return IsRetryable(code) || code == ErrorCode::kUnauthenticated ||
         code == ErrorCode::kPermissionDenied;
}

json CommitEntry(const Admission& admission, const std::string& model, const core::Usage& usage,
                 core::Money cost, bool estimated) {
  return json{{"reservationId", admission.reservation_id},
              {"idempotencyKey", admission.idempotency_key + "-commit"},
              {"model", model},
              {"usage", core::UsageToJson(usage)},
              {"cost", cost.ToString()},
              {"estimated", estimated}};
}

// The spend a spooled commit records (a ceiling report records none); unreadable fields
// count as zero.
struct SpooledSpend {
  core::Money cost;
  int64_t tokens = 0;
};

SpooledSpend SpendOf(const json& entry) {
  if (IsCeilingEntry(entry)) {
    return {};
  }
  const auto cost = entry.contains("cost") && entry["cost"].is_string()
                        ? core::Money::Parse(entry["cost"].get<std::string>())
                        : Result<core::Money>(core::Money());
  const auto usage = core::UsageFromJson(entry.contains("usage") ? entry["usage"] : json());
  return {cost.ok() ? *cost : core::Money(), usage.ok() ? usage->Total() : 0};
}

// The write a spooled entry asks for; nullopt when it is malformed.
std::optional<Write> WriteOf(const json& entry) {
  const std::string key = StringField(entry, "idempotencyKey");
  if (IsCeilingEntry(entry)) {
    const std::string ceiling = StringField(entry, "ceiling");
    if (ceiling.empty() || key.empty()) {
      return std::nullopt;
    }
    return EventRequest{key, core::kCeilingEventPrefix + ceiling, core::Money(), 0,
                        StringField(entry, "description")};
  }
  auto usage = core::UsageFromJson(entry.contains("usage") ? entry["usage"] : json());
  auto cost = core::Money::Parse(StringField(entry, "cost"));
  if (!usage.ok() || !cost.ok() || StringField(entry, "reservationId").empty()) {
    return std::nullopt;
  }
  const auto estimated = entry.find("estimated");
  return CommitRequest{StringField(entry, "reservationId"), key, StringField(entry, "model"),
                       *usage, *cost,
                       estimated != entry.end() && estimated->is_boolean() &&
                           estimated->get<bool>()};
}

// The direct debit standing for a commit whose reservation the authority does not know.
EventRequest DebitOf(const CommitRequest& commit) {
  return EventRequest{
      commit.idempotency_key, "llm", commit.cost, commit.usage.Total(),
      "LLM call on " + commit.model + " (reservation not known to the authority)"};
}

// True when the authority's answer `sent` to `entry` is final: acknowledged, or refused for
// good (logged, and the entry dropped).
bool Settled(const Status& sent, const Write& write) {
  if (sent.ok()) {
    return true;
  }
  if (Retryable(sent.error().code)) {
    return false;
  }
  log::Error("authority rejected a spooled entry; not retrying",
             {{"error", sent.error().ToString()},
              {"idempotencyKey",
               std::visit([](const auto& request) { return request.idempotency_key; }, write)}});
  return true;
}

// How often a draining enforcer wakes its sender: an authority that comes back during the
// drain is retried this soon, whatever the sender's backoff had grown to.
constexpr std::chrono::milliseconds kDrainRetry{250};

// No reservation is asked ahead while more than this share (1/n) of the spool's bound
// waits for the authority.
constexpr size_t kAheadBacklogShare = 10;

// How long a stopping enforcer waits for the answers to reservations it asked for ahead,
// so as to release them rather than leave them to expire at the authority.
constexpr std::chrono::seconds kAheadAnswerWait{1};

json CeilingEntry(const Admission& denied, const std::string& ceiling) {
  return json{{"type", kCeilingType},
              {"idempotencyKey", denied.idempotency_key + "-ceiling"},
              {"ceiling", ceiling},
              {"description", denied.reason}};
}

}  // namespace

Enforcer::Enforcer(Options options, std::unique_ptr<AuthorityClient> authority,
                   std::unique_ptr<CommitSpool> spool)
    : options_(std::move(options)),
      authority_(std::move(authority)),
      spool_(std::move(spool)),
      key_prefix_((options_.run.empty() ? std::string("run") : options_.run) + "-" + RandomHex()),
      envelope_(options_.limits),
      backoff_(options_.min_backoff) {
  if (spool_ != nullptr) {
    const auto pending = spool_->Pending();
    for (const auto& [sequence, entry] : pending) {
      if (IsCeilingEntry(entry)) {
        reported_ceilings_.insert(StringField(entry, "ceiling"));
        continue;
      }
      const SpooledSpend spend = SpendOf(entry);
      envelope_.RecordSpend(spend.cost, spend.tokens);
    }
    if (!pending.empty()) {
      log::Info("resending spooled entries", {{"count", pending.size()}, {"dir", spool_->dir()}});
    }
  }
  if (authority_ != nullptr && spool_ != nullptr) {
    for (size_t i = 0; i < std::max<size_t>(options_.senders, 1); ++i) {
      senders_.emplace_back([this] {
        NameBackgroundThread("commit-sender");
        SendLoop();
      });
    }
  }
  if (authority_ != nullptr && options_.spool_wait.count() > 0) {
    waits_ended_ = std::thread([this] {
      NameBackgroundThread("spool-wait");
      EndWaits();
    });
  }
  if (authority_ != nullptr && options_.ahead) {
    ahead_ = std::make_shared<ReservationsAhead>(*options_.ahead);
    ahead_releaser_ = std::thread([this] {
      NameBackgroundThread("ahead-release");
      for (auto stale = ahead_->WaitForStale(); !stale.empty(); stale = ahead_->WaitForStale()) {
        ReleaseAhead(stale, /*until_failure=*/false);
      }
    });
  }
}

Enforcer::~Enforcer() {
  if (ahead_ != nullptr) {
    const auto held = ahead_->Close(ReservationsAhead::Clock::now() + kAheadAnswerWait);
    ahead_releaser_.join();
    ReleaseAhead(held, /*until_failure=*/true);
  }
  {
    MutexLock lock(send_mu_);
    stop_ = true;
  }
  wake_.SignalAll();
  for (std::thread& sender : senders_) {
    sender.join();
  }
  if (waits_ended_.joinable()) {
    {
      MutexLock lock(wait_mu_);
      stop_waits_ = true;
    }
    parked_.SignalAll();
    waits_ended_.join();
  }
  // Once nothing else can resume one: every call still waiting for room is denied.
  if (spool_ != nullptr) {
    ResumeWaiting(/*all=*/true);
  }
  // While every other member is alive: the spool's writer stores what is queued and runs
  // its callbacks, which wake senders and keep ceiling reports.
  spool_.reset();
}

std::string Enforcer::NextKey() { return key_prefix_ + "-" + std::to_string(++counter_); }

void Enforcer::Admit(std::string_view provider, const std::string& model,
                     uint64_t fingerprint, core::Money estimate_cost, int64_t estimate_tokens,
                     AdmitDone done) {
  Admission admission;
  admission.model = model;
  admission.idempotency_key = NextKey();
  admission.estimate_cost = estimate_cost;
  admission.estimate_tokens = estimate_tokens;
  if (authority_ != nullptr && Unsettled() >= spool_->max_entries()) {
    switch (Wait(provider, model, fingerprint, estimate_cost, estimate_tokens, done)) {
      case WaitOutcome::kWaiting:
        return;
      case WaitOutcome::kRefused:
        done(SpoolFull(model));
        return;
      case WaitOutcome::kRoom:
        break;
    }
  }
  core::EnvelopeDecision local;
  {
    MutexLock lock(mu_);
    local = envelope_.Reserve(fingerprint, estimate_cost, estimate_tokens);
  }
  if (!local.allowed) {
    admission.reason = local.reason;
    if (core::StopsRun(local.ceiling)) {
      ReportCeiling(local.ceiling, admission);
    }
    done(std::move(admission));
    return;
  }
  admission.allowed = true;
  admission.reservation_id = "local-" + admission.idempotency_key;
  if (authority_ == nullptr) {
    done(std::move(admission));
    return;
  }
  const std::string provider_name(provider);
  if (ahead_ != nullptr) {
    if (auto held = ahead_->Take(provider_name, model, estimate_cost, estimate_tokens,
                                 ReservationsAhead::Clock::now())) {
      admission.idempotency_key = held->idempotency_key;
      done(Decide(std::move(admission), held->reservation));
      ReserveAhead(provider_name, model, estimate_cost, estimate_tokens);
      return;
    }
  }
  ReserveRequest request{admission.idempotency_key, provider_name, model, estimate_cost,
                         estimate_tokens};
  authority_->Reserve(request, [this, admission = std::move(admission), done = std::move(done),
                                request](Result<Reservation> reservation) mutable {
    Admission decided = Decide(std::move(admission), reservation);
    // Not after a local admission for an unreachable authority: nothing to ask it ahead.
    const bool granted = decided.allowed && reservation.ok();
    done(std::move(decided));
    if (granted && ahead_ != nullptr) {
      ReserveAhead(request.provider, request.model, request.estimate_cost,
                   request.estimate_tokens);
    }
  });
}

void Enforcer::ReserveAhead(const std::string& provider, const std::string& model,
                            core::Money estimate_cost, int64_t estimate_tokens) {
  // While commits wait in the spool, the authority is behind: calls then wait for their own
  // reservations, and so go at the pace it keeps.
  if (spool_->size() > spool_->max_entries() / kAheadBacklogShare) {
    return;
  }
  const size_t want = ahead_->Want(provider, model, ReservationsAhead::Clock::now());
  if (want == 0) {
    return;
  }
  std::vector<ReserveRequest> requests;
  for (size_t i = 0; i < want; ++i) {
    requests.push_back({NextKey(), provider, model, ReservationsAhead::AheadCost(estimate_cost),
                        ReservationsAhead::AheadTokens(estimate_tokens), /*ahead=*/true});
  }
  // Captures the shared state, not this enforcer, which may be gone by the answer.
  authority_->ReserveBatch(requests, [ahead = ahead_, requests](
                                         Result<std::vector<Result<Reservation>>> answers) {
    if (!answers.ok()) {
      log::Debug("reservations ahead failed", {{"error", answers.error().ToString()}});
    }
    for (size_t i = 0; i < requests.size(); ++i) {
      const ReserveRequest& request = requests[i];
      const Result<Reservation>& reservation =
          answers.ok() ? (*answers)[i] : Result<Reservation>(answers.error());
      std::optional<ReservationsAhead::Held> granted;
      if (reservation.ok()) {
        granted = ReservationsAhead::Held{*reservation, request.idempotency_key,
                                          request.estimate_cost, request.estimate_tokens,
                                          ReservationsAhead::Clock::now()};
      } else if (answers.ok()) {
        log::Debug("reservation ahead failed", {{"error", reservation.error().ToString()}});
      }
      const auto late = ahead->Arrived(request.provider, request.model, std::move(granted),
                                       ReservationsAhead::Clock::now());
      if (late) {
        // Answered after the enforcer stopped: no call of the client may be made from here.
        log::Info("reservation asked ahead answered after shutdown; the authority expires it",
                  {{"reservation", late->reservation.id}});
      }
    }
  });
}

void Enforcer::ReleaseAhead(const std::vector<ReservationsAhead::Held>& held,
                            bool until_failure) {
  for (const ReservationsAhead::Held& one : held) {
    Status released =
        authority_->Release(one.reservation.id, one.idempotency_key + "-release");
    if (!released.ok()) {
      log::Warn("release of a reservation held ahead failed; the authority expires it",
                {{"error", released.error().ToString()}, {"reservation", one.reservation.id}});
      if (until_failure) {
        return;
      }
    }
  }
}

Enforcer::WaitOutcome Enforcer::Wait(std::string_view provider, const std::string& model,
                                     uint64_t fingerprint, core::Money estimate_cost,
                                     int64_t estimate_tokens, AdmitDone& done) {
  MutexLock lock(wait_mu_);
  // Checked again under the lock ResumeWaiting takes after a batch's removals: either the
  // call sees the room they made, or they see the call waiting.
  if (Unsettled() < spool_->max_entries()) {
    return WaitOutcome::kRoom;
  }
  if (options_.spool_wait.count() <= 0 || waiting_.size() >= options_.max_waiting) {
    return WaitOutcome::kRefused;
  }
  waiting_.push_back({std::chrono::steady_clock::now() + options_.spool_wait,
                      std::string(provider), model, fingerprint, estimate_cost, estimate_tokens,
                      std::move(done)});
  parked_.Signal();
  return WaitOutcome::kWaiting;
}

void Enforcer::EndWaits() {
  while (true) {
    {
      MutexLock lock(wait_mu_);
      // Every call waits as long (spool_wait), so the oldest's wait ends first.
      while (!stop_waits_ &&
             (waiting_.empty() || std::chrono::steady_clock::now() < waiting_.front().until)) {
        if (waiting_.empty()) {
          parked_.Wait(wait_mu_);
        } else {
          parked_.WaitUntil(wait_mu_, waiting_.front().until);
        }
      }
      if (stop_waits_) {
        return;
      }
    }
    ResumeWaiting(/*all=*/false);
  }
}

void Enforcer::ResumeWaiting(bool all) {
  std::vector<WaitingCall> resumed;
  std::vector<WaitingCall> ended;
  {
    MutexLock lock(wait_mu_);
    const size_t stored = Unsettled();
    size_t room = all || stored >= spool_->max_entries() ? 0 : spool_->max_entries() - stored;
    const auto now = std::chrono::steady_clock::now();
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (room > 0) {
        --room;
        resumed.push_back(std::move(*it));
      } else if (all || it->until <= now) {
        ended.push_back(std::move(*it));
      } else {
        ++it;
        continue;
      }
      it = waiting_.erase(it);
    }
  }
  for (WaitingCall& call : ended) {
    call.done(SpoolFull(call.model));
  }
  for (WaitingCall& call : resumed) {
    Admit(call.provider, call.model, call.fingerprint, call.estimate_cost, call.estimate_tokens,
          std::move(call.done));
  }
}

Admission Enforcer::SpoolFull(const std::string& model) const {
  Admission denied;
  denied.model = model;
  denied.reason = "commit spool full: " + std::to_string(spool_->max_entries()) +
                  " commits the budget authority has not acknowledged yet";
  return denied;
}

Admission Enforcer::Decide(Admission admission, const Result<Reservation>& reservation) {
  if (!reservation.ok()) {
    const Error& error = reservation.error();
    if (Unreachable(error) && options_.failure_mode == FailureMode::kOpen) {
      log::Warn("authority unreachable; enforcing the run envelope locally (failureMode Open)",
                {{"error", error.ToString()}});
      return admission;
    }
    ReleaseLocally(admission);
    admission.allowed = false;
    admission.reason = options_.failure_mode == FailureMode::kClosed && Unreachable(error)
                           ? "budget authority unreachable and failureMode is Closed (" +
                                 error.message + ")"
                           : "budget authority refused the reservation (" + error.message + ")";
    return admission;
  }
  admission.reason = reservation->reason;
  switch (reservation->decision) {
    case Decision::kAllow:
      admission.reservation_id = reservation->id;
      break;
    case Decision::kDegrade:
      admission.reservation_id = reservation->id;
      admission.degraded = true;
      admission.model = reservation->model;
      break;
    case Decision::kDeny:
      // The authority holds nothing for a denial; undo the local reservation.
      ReleaseLocally(admission);
      admission.allowed = false;
      break;
  }
  return admission;
}

void Enforcer::Complete(const Admission& admission, const std::string& model,
                        const core::Usage& usage, core::Money cost, bool estimated) {
  {
    MutexLock lock(mu_);
    envelope_.Commit(admission.estimate_cost, admission.estimate_tokens, cost, usage.Total());
  }
  if (authority_ == nullptr) {
    return;
  }
  // The write the entry asks for, kept for the rare failure instead of the entry's
  // document, until the spool has stored it.
  Write write = CommitRequest{admission.reservation_id, admission.idempotency_key + "-commit",
                              model, usage, cost, estimated};
  Spool(CommitEntry(admission, model, usage, cost, estimated),
        [this, write = std::move(write)](const Error& error) mutable {
          log::Error("commit could not be spooled; sending it once without durability",
                     {{"error", error.ToString()}});
          {
            MutexLock lock(send_mu_);
            unspooled_.push_back(std::move(write));
            unspooled_count_.fetch_add(1);
          }
          wake_.Signal();
        });
}

void Enforcer::ReportCeiling(const std::string& ceiling, const Admission& denied) {
  if (authority_ == nullptr) {
    return;
  }
  {
    MutexLock lock(mu_);
    if (!reported_ceilings_.insert(ceiling).second) {
      return;
    }
  }
  Spool(CeilingEntry(denied, ceiling), [this, ceiling](const Error& error) {
    // Sending it here would make the denial wait for the authority; the next denial for
    // this ceiling tries again.
    log::Error("ceiling report could not be spooled",
               {{"error", error.ToString()}, {"ceiling", ceiling}});
    MutexLock lock(mu_);
    reported_ceilings_.erase(ceiling);
  });
}

void Enforcer::Spool(const json& entry, std::function<void(const Error&)> failed) {
  spool_->Append(entry, [this, failed = std::move(failed)](Result<uint64_t> stored) {
    if (!stored.ok()) {
      failed(stored.error());
      return;
    }
    // Under the senders' lock, so that a sender between finding nothing and waiting is woken.
    // One sender is enough: the one woken claims what is stored by then.
    MutexLock lock(send_mu_);
    if (!wake_pending_) {
      wake_pending_ = true;
      wake_.Signal();
    }
  });
}

void Enforcer::Abandon(const Admission& admission) {
  ReleaseLocally(admission);
  ReleaseAtAuthority(admission);
}

void Enforcer::ReleaseLocally(const Admission& admission) {
  MutexLock lock(mu_);
  envelope_.Release(admission.estimate_cost, admission.estimate_tokens);
}

void Enforcer::AbandonUnsent(const Admission& admission) {
  {
    MutexLock lock(mu_);
    envelope_.ReleaseUnsent(admission.estimate_cost, admission.estimate_tokens);
  }
  ReleaseAtAuthority(admission);
}

void Enforcer::ReleaseAtAuthority(const Admission& admission) {
  if (authority_ != nullptr && !admission.reservation_id.starts_with("local-")) {
    Status released =
        authority_->Release(admission.reservation_id, admission.idempotency_key + "-release");
    if (!released.ok()) {
      // The authority sweeps expired reservations; a lost release only delays that.
      log::Warn("release failed", {{"error", released.error().ToString()}});
    }
  }
}

core::EnvelopeTotals Enforcer::totals() const {
  MutexLock lock(mu_);
  return envelope_.totals();
}

size_t Enforcer::PendingCommits() const { return spool_ != nullptr ? spool_->size() : 0; }

void Enforcer::Flush() {
  {
    MutexLock lock(send_mu_);
    retry_at_ = std::chrono::steady_clock::time_point::min();
  }
  wake_.SignalAll();
}

bool Enforcer::Drain(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    Flush();
    MutexLock lock(send_mu_);
    const auto next = std::min(deadline, std::chrono::steady_clock::now() + kDrainRetry);
    if (sent_.WaitUntil(send_mu_, next,
                        [this]() REQUIRES(send_mu_) { return PendingCommits() == 0; })) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
  }
}

UnsentEntries Enforcer::Unsent() const {
  UnsentEntries unsent;
  if (spool_ == nullptr) {
    return unsent;
  }
  for (const auto& [sequence, entry] : spool_->Pending()) {
    const SpooledSpend spend = SpendOf(entry);
    unsent.cost += spend.cost;
    unsent.tokens += spend.tokens;
    unsent.idempotency_keys.push_back(StringField(entry, "idempotencyKey"));
  }
  return unsent;
}

size_t Enforcer::Unsettled() const { return spool_->size() + unspooled_count_.load(); }

bool Enforcer::Stopping() const {
  MutexLock lock(send_mu_);
  return stop_;
}

bool Enforcer::SendOne(const Write& write) {
  if (const auto* commit = std::get_if<CommitRequest>(&write)) {
    Status sent = authority_->Commit(*commit);
    if (!sent.ok() && sent.error().code == ErrorCode::kNotFound) {
      sent = authority_->RecordEvent(DebitOf(*commit));
    }
    return Settled(sent, write);
  }
  return Settled(authority_->RecordEvent(std::get<EventRequest>(write)), write);
}

std::vector<bool> Enforcer::SendBatch(std::vector<std::optional<Write>>&& batch) {
  std::vector<bool> done(batch.size(), false);
  std::vector<Write> writes;
  std::vector<size_t> of_write;  // the batch index of each write
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i]) {
      writes.push_back(std::move(*batch[i]));
      of_write.push_back(i);
    } else {
      log::Error("malformed spool entry dropped", {});
      done[i] = true;
    }
  }
  if (writes.empty()) {
    return done;
  }
  auto answers = authority_->CommitBatch(writes);
  if (!answers.ok()) {
    if (Retryable(answers.error().code)) {
      log::Debug("batch not acknowledged; resent after a backoff",
                 {{"error", answers.error().ToString()}, {"writes", writes.size()}});
      return done;
    }
    log::Warn("the authority cannot take the batch; sending its entries one at a time",
              {{"error", answers.error().ToString()}});
    for (size_t w = 0; w < writes.size(); ++w) {
      // Stopping leaves the rest in the spool, which outlives this process.
      if (Stopping()) {
        break;
      }
      done[of_write[w]] = SendOne(writes[w]);
    }
    return done;
  }
  // Commits of reservations the authority does not know go again as direct debits.
  std::vector<Write> debits;
  std::vector<size_t> of_debit;  // the batch index of each debit
  for (size_t w = 0; w < writes.size(); ++w) {
    const Status& answer = (*answers)[w];
    const auto* commit = std::get_if<CommitRequest>(&writes[w]);
    if (!answer.ok() && answer.error().code == ErrorCode::kNotFound && commit != nullptr) {
      debits.emplace_back(DebitOf(*commit));
      of_debit.push_back(of_write[w]);
      continue;
    }
    done[of_write[w]] = Settled(answer, writes[w]);
  }
  if (!debits.empty()) {
    // A failure of the whole call leaves these entries for the next attempt.
    if (auto debited = authority_->CommitBatch(debits); debited.ok()) {
      for (size_t d = 0; d < debits.size(); ++d) {
        done[of_debit[d]] = Settled((*debited)[d], debits[d]);
      }
    }
  }
  return done;
}

Enforcer::Claimed Enforcer::Claim() {
  const size_t limit = std::clamp<size_t>(options_.max_batch, 1, kMaxBatch);
  MutexLock lock(send_mu_);
  while (!stop_) {
    if (!unspooled_.empty()) {
      Claimed claimed;
      claimed.unspooled = std::move(unspooled_.front());
      unspooled_.pop_front();
      unspooled_count_.fetch_sub(1);
      return claimed;
    }
    if (std::chrono::steady_clock::now() < retry_at_) {
      wake_.WaitUntil(send_mu_, retry_at_);
      continue;
    }
    Claimed claimed;
    claimed.entries = spool_->Oldest(limit, in_flight_);
    if (!claimed.entries.empty()) {
      for (const auto& [sequence, entry] : claimed.entries) {
        in_flight_.insert(sequence);
      }
      // A full batch may have left entries behind: another sender may take them.
      wake_pending_ = claimed.entries.size() == limit;
      if (wake_pending_) {
        wake_.Signal();
      }
      return claimed;
    }
    // A wake-up that found nothing is spent: an entry another sender took as soon as the
    // spool stored it still wakes one when its append is answered. Left set, it would keep
    // every later entry from waking a sender.
    wake_pending_ = false;
    wake_.Wait(send_mu_);
  }
  return {};
}

void Enforcer::SendLoop() {
  while (true) {
    Claimed claimed = Claim();
    if (claimed.unspooled) {
      SendOne(*claimed.unspooled);  // once: what it cannot keep is logged
      ResumeWaiting(/*all=*/false);   // its room was made when it was claimed
      continue;
    }
    if (claimed.entries.empty()) {
      return;
    }
    // Only the writes wait for the authority's answer, not the entries' documents.
    std::vector<uint64_t> sequences;
    std::vector<std::optional<Write>> writes;
    for (const auto& [sequence, entry] : claimed.entries) {
      sequences.push_back(sequence);
      writes.push_back(WriteOf(entry));
    }
    claimed = {};
    const std::vector<bool> done = SendBatch(std::move(writes));
    bool failed = false;
    for (size_t i = 0; i < sequences.size(); ++i) {
      if (!done[i]) {
        failed = true;
      } else {
        spool_->Remove(sequences[i]);
      }
    }
    {
      MutexLock lock(send_mu_);
      for (const uint64_t sequence : sequences) {
        in_flight_.erase(sequence);
      }
      const auto now = std::chrono::steady_clock::now();
      // One backoff step per round of failures, however many senders saw it.
      if (failed && retry_at_ <= now) {
        retry_at_ = now + backoff_;
        backoff_ = std::min(backoff_ * 2, options_.max_backoff);
      } else if (!failed && retry_at_ <= now) {
        backoff_ = options_.min_backoff;
      }
    }
    sent_.SignalAll();
    ResumeWaiting(/*all=*/false);
  }
}

}  // namespace agentbudget::meter
