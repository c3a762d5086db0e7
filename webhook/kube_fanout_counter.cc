#include "webhook/kube_fanout_counter.h"

#include <cctype>
#include <utility>

#include "webhook/mutation.h"

namespace agentbudget::webhook {
namespace {

int64_t CountOf(const nlohmann::json& config_map) {
  auto data = config_map.find("data");
  if (data == config_map.end() || !data->is_object()) {
    return 0;
  }
  auto count = data->find("count");
  if (count == data->end() || !count->is_string()) {
    return 0;
  }
  const std::string text = count->get<std::string>();
  int64_t n = 0;
  for (char c : text) {
    if (std::isdigit(static_cast<unsigned char>(c)) == 0 || n > (int64_t{1} << 40)) {
      return 0;
    }
    n = n * 10 + (c - '0');
  }
  return n;
}

}  // namespace

KubeFanoutCounter::KubeFanoutCounter(kube::Client& client, std::chrono::milliseconds deadline,
                                     const Clock& clock)
    : client_(client), deadline_(deadline), clock_(clock) {}

std::string KubeFanoutCounter::ConfigMapName(const std::string& parent_run) {
  std::string safe;
  for (char c : parent_run) {
    const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    safe += (std::isalnum(static_cast<unsigned char>(lower)) != 0 || lower == '-') ? lower : '-';
  }
  if (safe.size() > 200) {
    safe.resize(200);
  }
  while (!safe.empty() && safe.back() == '-') {
    safe.pop_back();
  }
  return "agentbudget-fanout-" + safe;
}

Result<FanoutClaim> KubeFanoutCounter::Claim(const std::string& ns,
                                             const std::string& parent_run, int64_t cap,
                                             bool dry_run) {
  const std::string key = ns + "/" + parent_run;
  std::shared_ptr<std::mutex> run_lock;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto full = full_.find(key);
    if (full != full_.end() && full->second >= cap) {
      return FanoutClaim{false, full->second};
    }
    std::shared_ptr<std::mutex>& slot = run_locks_[key];
    if (!slot) {
      slot = std::make_shared<std::mutex>();
    }
    run_lock = slot;
  }
  std::lock_guard<std::mutex> turn(*run_lock);
  auto claim = ClaimLocked(ns, parent_run, cap, dry_run);
  if (claim.ok() && !claim->admitted) {
    std::lock_guard<std::mutex> lock(mu_);
    full_[key] = claim->count;
  }
  return claim;
}

Result<FanoutClaim> KubeFanoutCounter::ClaimLocked(const std::string& ns,
                                                   const std::string& parent_run, int64_t cap,
                                                   bool dry_run) {
  const std::string name = ConfigMapName(parent_run);
  const auto give_up = clock_.Monotonic() + deadline_;
  const std::string run_label = SanitizeLabelValue(parent_run);
  while (clock_.Monotonic() < give_up) {
    auto current = client_.Get(kube::resources::kConfigMaps, ns, name);
    if (!current.ok() && current.error().code != ErrorCode::kNotFound) {
      return std::move(current).error();
    }
    if (!current.ok()) {
      if (cap <= 0) {
        return FanoutClaim{false, 0};
      }
      if (dry_run) {
        return FanoutClaim{true, 1};
      }
      nlohmann::json fresh = {
          {"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"labels",
             {{keys::kRun, run_label},
              {"app.kubernetes.io/managed-by", "agentbudget-webhook"}}}}},
          {"data", {{"count", "1"}, {"run", parent_run}}}};
      auto created = client_.Create(kube::resources::kConfigMaps, ns, fresh);
      if (created.ok()) {
        return FanoutClaim{true, 1};
      }
      if (created.error().code != ErrorCode::kAlreadyExists &&
          created.error().code != ErrorCode::kConflict) {
        return std::move(created).error();
      }
      continue;  // another replica created it first: read it
    }
    const int64_t count = CountOf(*current);
    if (count >= cap) {
      return FanoutClaim{false, count};
    }
    if (dry_run) {
      return FanoutClaim{true, count + 1};
    }
    nlohmann::json next = std::move(current).value();
    next["data"]["count"] = std::to_string(count + 1);
    // metadata.resourceVersion stays as read: the update is conditional on it.
    auto updated = client_.Update(kube::resources::kConfigMaps, ns, next);
    if (updated.ok()) {
      return FanoutClaim{true, count + 1};
    }
    if (updated.error().code != ErrorCode::kConflict) {
      return std::move(updated).error();
    }
  }
  return MakeError(ErrorCode::kDeadlineExceeded,
                   "the subagent count of run " + parent_run + " stayed contended for " +
                       std::to_string(deadline_.count()) + " ms");
}

}  // namespace agentbudget::webhook
