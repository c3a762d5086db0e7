#include "kube/leader_election.h"

#include "common/log.h"
#include "kube/timestamps.h"

namespace agentbudget::kube {

using nlohmann::json;

LeaderElector::LeaderElector(Client& client, LeaderElectionConfig config,
                             LeaderCallbacks callbacks, const Clock& clock)
    : client_(client),
      config_(std::move(config)),
      callbacks_(std::move(callbacks)),
      clock_(clock) {}

void LeaderElector::Stop() {
  MutexLock lock(mu_);
  stopped_ = true;
  cv_.SignalAll();
}

bool LeaderElector::WaitOrStopped(std::chrono::milliseconds period) {
  MutexLock lock(mu_);
  return cv_.WaitFor(mu_, period, [this]() REQUIRES(mu_) { return stopped_; });
}

json LeaderElector::Record(const std::string& holder, int64_t duration_seconds,
                           const std::string& acquire_time, int64_t transitions) const {
  std::string now = FormatMicroTime(clock_.Now());
  json spec = {{"holderIdentity", holder},
               {"leaseDurationSeconds", duration_seconds},
               {"acquireTime", acquire_time.empty() ? now : acquire_time},
               {"renewTime", now},
               {"leaseTransitions", transitions}};
  return spec;
}

bool LeaderElector::TryAcquireOrRenew() {
  int64_t duration_seconds =
      std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(config_.lease_duration).count());
  Result<json> current =
      client_.Get(resources::kLeases, config_.lease_namespace, config_.lease_name);
  if (!current.ok()) {
    if (current.error().code != ErrorCode::kNotFound) {
      log::Warn("reading the lease failed", {{"lease", config_.lease_name},
                                             {"error", current.error().ToString()}});
      return false;
    }
    json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                  {"kind", "Lease"},
                  {"metadata", {{"name", config_.lease_name}, {"namespace", config_.lease_namespace}}},
                  {"spec", Record(config_.identity, duration_seconds, "", 0)}};
    Result<json> created = client_.Create(resources::kLeases, config_.lease_namespace, lease);
    if (!created.ok()) {
      return false;
    }
    lease_ = std::move(created).value();
    observed_spec_ = lease_["spec"].dump();
    observed_holder_ = config_.identity;
    observed_at_ = clock_.Monotonic();
    return true;
  }
  lease_ = std::move(current).value();
  json spec = lease_.contains("spec") && lease_["spec"].is_object() ? lease_["spec"] : json::object();
  std::string holder = spec.value("holderIdentity", "");
  std::string spec_text = spec.dump();
  if (spec_text != observed_spec_) {
    observed_spec_ = spec_text;
    observed_at_ = clock_.Monotonic();
    observed_duration_ = std::chrono::seconds(spec.value("leaseDurationSeconds", duration_seconds));
    if (holder != observed_holder_) {
      observed_holder_ = holder;
      if (callbacks_.on_new_leader && !holder.empty()) {
        callbacks_.on_new_leader(holder);
      }
    }
  }
  bool held_by_other = !holder.empty() && holder != config_.identity;
  if (held_by_other && clock_.Monotonic() < observed_at_ + observed_duration_) {
    return false;  // someone else holds an unexpired lease
  }
  int64_t transitions = spec.value("leaseTransitions", int64_t{0});
  std::string acquire_time = spec.value("acquireTime", "");
  if (holder != config_.identity) {
    ++transitions;
    acquire_time.clear();
  }
  json updated = lease_;
  updated["spec"] = Record(config_.identity, duration_seconds, acquire_time, transitions);
  Result<json> written = client_.Update(resources::kLeases, config_.lease_namespace, updated);
  if (!written.ok()) {
    if (written.error().code != ErrorCode::kConflict) {
      log::Warn("updating the lease failed", {{"lease", config_.lease_name},
                                              {"error", written.error().ToString()}});
    }
    return false;
  }
  lease_ = std::move(written).value();
  observed_spec_ = lease_["spec"].dump();
  observed_holder_ = config_.identity;
  observed_at_ = clock_.Monotonic();
  return true;
}

void LeaderElector::Release() {
  if (!lease_.is_object() || !lease_.contains("spec")) {
    return;
  }
  json released = lease_;
  released["spec"] = Record("", 1, "", lease_["spec"].value("leaseTransitions", int64_t{0}));
  Result<json> written = client_.Update(resources::kLeases, config_.lease_namespace, released);
  if (!written.ok()) {
    log::Warn("releasing the lease failed", {{"lease", config_.lease_name},
                                             {"error", written.error().ToString()}});
  }
}

Status LeaderElector::Run() {
  if (config_.lease_name.empty() || config_.lease_namespace.empty() || config_.identity.empty() ||
      !(config_.lease_duration > config_.renew_deadline &&
        config_.renew_deadline > config_.retry_period && config_.retry_period.count() > 0)) {
    return InvalidArgument(
        "leader election needs a lease name, namespace and identity, and lease duration > "
        "renew deadline > retry period > 0");
  }
  // Campaign.
  while (!TryAcquireOrRenew()) {
    if (WaitOrStopped(config_.retry_period)) {
      return OkStatus();
    }
  }
  leader_ = true;
  log::Info("became leader", {{"lease", config_.lease_name}, {"identity", config_.identity}});
  if (callbacks_.on_new_leader) {
    callbacks_.on_new_leader(config_.identity);
  }
  if (callbacks_.on_started_leading) {
    callbacks_.on_started_leading();
  }
  // Renew: give up once no renewal succeeded for renew_deadline.
  auto last_renewal = clock_.Monotonic();
  bool stopped = false;
  while (true) {
    if (WaitOrStopped(config_.retry_period)) {
      stopped = true;
      break;
    }
    if (TryAcquireOrRenew()) {
      last_renewal = clock_.Monotonic();
    } else if (observed_holder_ != config_.identity ||
               clock_.Monotonic() - last_renewal >= config_.renew_deadline) {
      break;  // taken over, or could not renew in time
    }
  }
  leader_ = false;
  log::Info(stopped ? "stepping down" : "leadership lost",
            {{"lease", config_.lease_name}, {"identity", config_.identity}});
  if (callbacks_.on_stopped_leading) {
    callbacks_.on_stopped_leading();
  }
  if (stopped) {
    if (config_.release_on_stop) {
      Release();
    }
    return OkStatus();
  }
  return Unavailable("leadership of lease " + config_.lease_namespace + "/" + config_.lease_name +
                     " lost");
}

}  // namespace agentbudget::kube
