#include "meter/enforcer.h"

#include <algorithm>
#include <random>

#include "common/log.h"
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

// How often a draining enforcer wakes its sender: an authority that comes back during the
// drain is retried this soon, whatever the sender's backoff had grown to.
constexpr std::chrono::milliseconds kDrainRetry{250};

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
      envelope_(options_.limits) {
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
    pending_ = pending.size();
    if (pending_ > 0) {
      log::Info("resending spooled entries", {{"count", pending_}, {"dir", spool_->dir()}});
    }
  }
  if (authority_ != nullptr && spool_ != nullptr) {
    sender_ = std::thread([this] { SendLoop(); });
  }
}

Enforcer::~Enforcer() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  wake_.SignalAll();
  if (sender_.joinable()) {
    sender_.join();
  }
}

std::string Enforcer::NextKey() { return key_prefix_ + "-" + std::to_string(++counter_); }

Admission Enforcer::Admit(std::string_view provider, const std::string& model,
                          uint64_t fingerprint, core::Money estimate_cost,
                          int64_t estimate_tokens) {
  Admission admission;
  admission.model = model;
  admission.idempotency_key = NextKey();
  admission.estimate_cost = estimate_cost;
  admission.estimate_tokens = estimate_tokens;
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
    return admission;
  }
  admission.allowed = true;
  admission.reservation_id = "local-" + admission.idempotency_key;
  if (authority_ == nullptr) {
    return admission;
  }
  auto reservation = authority_->Reserve(ReserveRequest{
      admission.idempotency_key, std::string(provider), model, estimate_cost, estimate_tokens});
  if (!reservation.ok()) {
    const Error& error = reservation.error();
    if (Unreachable(error) && options_.failure_mode == FailureMode::kOpen) {
      log::Warn("authority unreachable; enforcing the run envelope locally (failureMode Open)",
                {{"error", error.ToString()}});
      return admission;
    }
    Abandon(admission);
    admission.allowed = false;
    admission.reason = options_.failure_mode == FailureMode::kClosed && Unreachable(error)
                           ? "budget authority unreachable and failureMode is Closed (" +
                                 error.message + ")"
                           : "budget authority refused the reservation (" + error.message + ")";
    return admission;
  }
  admission.reservation_id = reservation->id;
  admission.reason = reservation->reason;
  switch (reservation->decision) {
    case Decision::kAllow:
      break;
    case Decision::kDegrade:
      admission.degraded = true;
      admission.model = reservation->model;
      break;
    case Decision::kDeny:
      // The authority holds nothing for a denial; undo the local reservation.
      Abandon(admission);
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
  const json entry = CommitEntry(admission, model, usage, cost, estimated);
  if (Status stored = Spool(entry); !stored.ok()) {
    log::Error("commit could not be spooled; sending it once without durability",
               {{"error", stored.error().ToString()}});
    SendOne(entry);
  }
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
  if (Status stored = Spool(CeilingEntry(denied, ceiling)); !stored.ok()) {
    // Sending it here would make the denial wait for the authority; the next denial for
    // this ceiling tries again.
    log::Error("ceiling report could not be spooled",
               {{"error", stored.error().ToString()}, {"ceiling", ceiling}});
    MutexLock lock(mu_);
    reported_ceilings_.erase(ceiling);
  }
}

Status Enforcer::Spool(const json& entry) {
  auto stored = spool_->Append(entry);
  if (!stored.ok()) {
    return std::move(stored).error();
  }
  {
    MutexLock lock(mu_);
    ++pending_;
    kick_ = true;
  }
  wake_.SignalAll();
  return OkStatus();
}

void Enforcer::Abandon(const Admission& admission) {
  {
    MutexLock lock(mu_);
    envelope_.Release(admission.estimate_cost, admission.estimate_tokens);
  }
  ReleaseAtAuthority(admission);
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

size_t Enforcer::PendingCommits() const {
  MutexLock lock(mu_);
  return pending_;
}

void Enforcer::Flush() {
  {
    MutexLock lock(mu_);
    kick_ = true;
  }
  wake_.SignalAll();
}

bool Enforcer::Drain(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    Flush();
    MutexLock lock(mu_);
    const auto next = std::min(deadline, std::chrono::steady_clock::now() + kDrainRetry);
    if (sent_.WaitUntil(mu_, next, [this]() REQUIRES(mu_) { return pending_ == 0; })) {
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

bool Enforcer::SendOne(const json& entry) {
  const std::optional<Status> sent =
      IsCeilingEntry(entry) ? SendCeiling(entry) : SendCommit(entry);
  if (!sent) {
    log::Error("malformed spool entry dropped", {});
    return true;
  }
  if (sent->ok()) {
    return true;
  }
  const ErrorCode code = sent->error().code;
  if (IsRetryable(code) || code == ErrorCode::kUnauthenticated ||
      code == ErrorCode::kPermissionDenied) {
    return false;
  }
  log::Error("authority rejected a spooled entry; not retrying",
             {{"error", sent->error().ToString()},
              {"idempotencyKey", StringField(entry, "idempotencyKey")}});
  return true;
}

std::optional<Status> Enforcer::SendCommit(const json& entry) {
  auto usage = core::UsageFromJson(entry.contains("usage") ? entry["usage"] : json());
  auto cost = core::Money::Parse(StringField(entry, "cost"));
  if (!usage.ok() || !cost.ok() || StringField(entry, "reservationId").empty()) {
    return std::nullopt;
  }
  const auto estimated = entry.find("estimated");
  CommitRequest commit{StringField(entry, "reservationId"), StringField(entry, "idempotencyKey"),
                       StringField(entry, "model"), *usage, *cost,
                       estimated != entry.end() && estimated->is_boolean() &&
                           estimated->get<bool>()};
  Status sent = authority_->Commit(commit);
  if (!sent.ok() && sent.error().code == ErrorCode::kNotFound) {
    sent = authority_->RecordEvent(EventRequest{commit.idempotency_key, "llm", commit.cost,
                                                commit.usage.Total(),
                                                "LLM call on " + commit.model +
                                                    " (reservation not known to the authority)"});
  }
  return sent;
}

std::optional<Status> Enforcer::SendCeiling(const json& entry) {
  const std::string ceiling = StringField(entry, "ceiling");
  const std::string key = StringField(entry, "idempotencyKey");
  if (ceiling.empty() || key.empty()) {
    return std::nullopt;
  }
  return authority_->RecordEvent(EventRequest{key, core::kCeilingEventPrefix + ceiling,
                                              core::Money(), 0,
                                              StringField(entry, "description")});
}

void Enforcer::SendLoop() {
  std::chrono::milliseconds backoff = options_.min_backoff;
  bool retry_later = false;
  while (true) {
    {
      MutexLock lock(mu_);
      const auto ready = [this]() REQUIRES(mu_) { return stop_ || kick_; };
      if (retry_later) {
        wake_.WaitFor(mu_, backoff, ready);
      } else {
        wake_.Wait(mu_, [this]() REQUIRES(mu_) { return stop_ || kick_ || pending_ > 0; });
      }
      if (stop_) {
        return;
      }
      kick_ = false;
    }
    retry_later = false;
    for (const auto& [sequence, entry] : spool_->Pending()) {
      // Stopping leaves the rest in the spool, which outlives this process.
      if (MutexLock lock(mu_); stop_) {
        return;
      }
      if (!SendOne(entry)) {
        retry_later = true;
        break;
      }
      if (Status removed = spool_->Remove(sequence); !removed.ok()) {
        log::Error("acknowledged commit could not be removed from the spool",
                   {{"error", removed.error().ToString()}});
      }
      MutexLock lock(mu_);
      if (pending_ > 0) {
        --pending_;
      }
      sent_.SignalAll();
    }
    if (retry_later) {
      backoff = std::min(backoff * 2, options_.max_backoff);
    } else {
      backoff = options_.min_backoff;
      MutexLock lock(mu_);
      pending_ = spool_->Pending().size();
      sent_.SignalAll();
    }
  }
}

}  // namespace agentbudget::meter
