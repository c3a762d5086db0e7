#include "webhook/kube_fanout_counter.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <thread>
#include <utility>

#include "core/json_field.h"
#include "webhook/attribution.h"

namespace agentbudget::webhook {
namespace {

const kube::GroupVersionResource& ResourceOf(const std::string& kind) {
  return kind == "Job" ? kube::resources::kJobs : kube::resources::kPods;
}

std::string Text(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : std::string();
}

StoredObject StoredObjectOf(const std::string& kind, const nlohmann::json& object) {
  return StoredObject{kind, Text(core::Member(object, {"metadata", "name"})),
                      Text(core::Member(object, {"metadata", "uid"}))};
}

}  // namespace

KubeFanoutCounter::KubeFanoutCounter(kube::Client& client, FanoutTiming timing,
                                     const Clock& clock)
    : client_(client), timing_(timing), clock_(clock) {}

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

int64_t KubeFanoutCounter::NowUnixMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             clock_.Now().time_since_epoch())
      .count();
}

KubeFanoutCounter::Tracked KubeFanoutCounter::tracked() const {
  MutexLock lock(mu_);
  return Tracked{runs_.size(), full_.size()};
}

void KubeFanoutCounter::RememberFull(const std::string& key, int64_t confirmed) {
  MutexLock lock(mu_);
  auto [it, added] = full_.insert_or_assign(key, confirmed);
  if (!added) {
    return;
  }
  full_order_.push_back(key);
  while (full_.size() > kMaxFullRuns) {
    full_.erase(full_order_.front());
    full_order_.pop_front();
  }
}

Result<FanoutClaim> KubeFanoutCounter::Claim(const FanoutRequest& request) {
  const std::string key = request.namespace_name + "/" + request.parent_run;
  std::shared_ptr<RunQueue> run;
  {
    MutexLock lock(mu_);
    auto full = full_.find(key);
    if (full != full_.end() && full->second >= std::min(request.cap, kMaxFanoutSlots)) {
      return FanoutClaim{false, full->second};
    }
    std::shared_ptr<RunQueue>& slot = runs_[key];
    if (!slot) {
      slot = std::make_shared<RunQueue>();
    }
    run = slot;
  }
  Result<FanoutClaim> result = ClaimInRun(*run, request);
  MutexLock lock(mu_);
  // Copies are made and dropped only under mu_: whoever drops the last one but the map's
  // erases the entry.
  run.reset();
  auto it = runs_.find(key);
  if (it != runs_.end() && it->second.use_count() == 1) {
    runs_.erase(it);
  }
  return result;
}

Result<FanoutClaim> KubeFanoutCounter::ClaimInRun(RunQueue& run, const FanoutRequest& request) {
  Waiter me{&request, request.received + timing_.budget, false, std::nullopt};
  MutexLock lock(run.mu);
  run.queued.push_back(&me);
  while (!me.result) {
    if (run.leading && me.taken) {
      run.changed.Wait(run.mu);  // in a batch: its leader answers within the batch's budget
      continue;
    }
    if (run.leading) {
      if (!run.changed.WaitUntil(run.mu, me.deadline) && !me.taken && !me.result) {
        run.queued.erase(std::find(run.queued.begin(), run.queued.end(), &me));
        return MakeError(ErrorCode::kDeadlineExceeded,
                         "other subagents of run " + request.parent_run +
                             " kept the count busy past the " +
                             std::to_string(timing_.budget.count()) + " ms budget");
      }
      continue;
    }
    // Lead: commit everything queued as one batch, until this claim has its answer.
    run.leading = true;
    while (!me.result) {
      std::vector<Waiter*> batch(run.queued.begin(), run.queued.end());
      run.queued.clear();
      std::vector<const FanoutRequest*> requests;
      auto deadline = me.deadline;
      for (Waiter* w : batch) {
        w->taken = true;
        requests.push_back(w->request);
        deadline = std::min(deadline, w->deadline);
      }
      std::vector<Result<FanoutClaim>> results;
      {
        // The batch is committed without the lock, so that later claims can queue meanwhile.
        MutexUnlock unlocked(run.mu);
        results = ClaimBatch(requests, deadline);
      }
      for (size_t i = 0; i < batch.size(); ++i) {
        batch[i]->result = std::move(results[i]);
      }
      run.changed.SignalAll();
    }
    run.leading = false;
    run.changed.SignalAll();  // a queued claim takes the lead
  }
  return std::move(*me.result);
}

std::vector<Result<FanoutClaim>> KubeFanoutCounter::ClaimBatch(
    const std::vector<const FanoutRequest*>& batch,
    std::chrono::steady_clock::time_point deadline) {
  const FanoutRequest& first = *batch.front();
  const std::string name = ConfigMapName(first.parent_run);
  std::vector<std::optional<Result<FanoutClaim>>> results(batch.size());
  auto open = [&results] {
    return std::any_of(results.begin(), results.end(), [](const auto& r) { return !r; });
  };
  auto fail_open = [&results](const Error& error) {
    for (auto& r : results) {
      if (!r) {
        r = error;
      }
    }
  };
  std::string waiting;  // why the last round could not decide
  while (open() && clock_.Monotonic() < deadline) {
    auto current = client_.Get(kube::resources::kConfigMaps, first.namespace_name, name);
    if (!current.ok() && current.error().code != ErrorCode::kNotFound) {
      fail_open(current.error());
      break;
    }
    std::vector<FanoutSlot> slots;
    if (current.ok()) {
      auto parsed = ParseFanoutSlots(*current);
      if (!parsed.ok()) {
        fail_open(Error{ErrorCode::kInternal, "ConfigMap " + name + ": " + parsed.error().message});
        break;
      }
      slots = std::move(parsed).value();
    }
    const auto confirmed = static_cast<int64_t>(std::count_if(
        slots.begin(), slots.end(), [](const FanoutSlot& s) { return s.confirmed(); }));
    // Answer every open claim from this one read: append the ones that fit.
    std::vector<std::optional<FanoutClaim>> tentative(batch.size());
    auto taken = static_cast<int64_t>(slots.size());
    bool appended = false;
    bool settle = false;
    const int64_t now = NowUnixMs();
    for (size_t i = 0; i < batch.size(); ++i) {
      const FanoutRequest& r = *batch[i];
      if (results[i]) {
        continue;
      }
      const int64_t cap = std::min(r.cap, kMaxFanoutSlots);
      if (taken < cap) {
        if (r.dry_run) {
          tentative[i] = FanoutClaim{true, taken + 1};
        } else {
          slots.push_back(FanoutSlot{r.kind, r.name, r.claim_uid, now, ""});
          tentative[i] = FanoutClaim{true, ++taken};
          appended = true;
        }
      } else if (confirmed >= cap || r.dry_run) {
        tentative[i] = FanoutClaim{false, taken};
        if (confirmed >= cap) {
          RememberFull(r.namespace_name + "/" + r.parent_run, confirmed);
        }
      } else {
        settle = true;
      }
    }
    if (appended) {
      Status written = Write(current.ok() ? std::move(current).value() : nlohmann::json(),
                             slots, first);
      if (!written.ok()) {
        if (written.error().code != ErrorCode::kConflict &&
            written.error().code != ErrorCode::kAlreadyExists) {
          fail_open(written.error());
          break;
        }
        continue;  // another writer came first: re-read
      }
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      if (tentative[i]) {
        results[i] = *tentative[i];
      }
    }
    if (!settle || appended) {
      continue;
    }
    // At the cap with pending slots: settle them against the objects the API server has.
    auto stored = StoredObjectsOf(first, slots, now);
    if (!stored.ok()) {
      fail_open(stored.error());
      break;
    }
    const ReconcileOutcome outcome = ReconcileFanoutSlots(slots, *stored, now, timing_.grace);
    if (outcome.changed()) {
      Status written = Write(std::move(current).value(), slots, first);
      if (!written.ok() && written.error().code != ErrorCode::kConflict) {
        fail_open(written.error());
        break;
      }
      continue;  // re-read: a released slot may now be taken
    }
    waiting = std::to_string(outcome.unresolved) + " of its " + std::to_string(taken) +
              " slots (cap " + std::to_string(first.cap) +
              ") belong to creations the API server has not stored yet; retry in a few seconds";
    const auto left = deadline - clock_.Monotonic();
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(timing_.poll, left));
  }
  if (waiting.empty()) {
    waiting = "its count stayed contended";
  }
  fail_open(Error{ErrorCode::kDeadlineExceeded, "within " +
                                                   std::to_string(timing_.budget.count()) +
                                                   " ms: run " + first.parent_run + ": " +
                                                   waiting});
  std::vector<Result<FanoutClaim>> out;
  out.reserve(results.size());
  for (auto& r : results) {
    out.push_back(std::move(*r));
  }
  return out;
}

Result<std::vector<StoredObject>> KubeFanoutCounter::StoredObjectsOf(
    const FanoutRequest& request, const std::vector<FanoutSlot>& slots, int64_t now_unix_ms) {
  std::set<std::string> kinds;
  for (const FanoutSlot& slot : slots) {
    if (!slot.confirmed()) {
      kinds.insert(slot.kind);
    }
  }
  std::vector<StoredObject> stored;
  kube::ListOptions options;
  options.label_selector =
      std::string(v1alpha1::keys::kParentRun) + "=" + SanitizeLabelValue(request.parent_run);
  for (const std::string& kind : kinds) {
    auto list = client_.List(ResourceOf(kind), request.namespace_name, options);
    if (!list.ok()) {
      return std::move(list).error();
    }
    for (const nlohmann::json& item : list->items) {
      stored.push_back(StoredObjectOf(kind, item));
    }
  }
  // Before a slot is released, look its object up by name: the label may be missing.
  for (const FanoutSlot& slot : slots) {
    if (slot.confirmed() || now_unix_ms - slot.claimed_unix_ms <= timing_.grace.count()) {
      continue;
    }
    const bool listed = std::any_of(stored.begin(), stored.end(), [&slot](const StoredObject& o) {
      return o.kind == slot.kind && o.name == slot.name;
    });
    if (listed) {
      continue;
    }
    auto object = client_.Get(ResourceOf(slot.kind), request.namespace_name, slot.name);
    if (object.ok()) {
      stored.push_back(StoredObjectOf(slot.kind, *object));
    } else if (object.error().code != ErrorCode::kNotFound) {
      return std::move(object).error();
    }
  }
  return stored;
}

Status KubeFanoutCounter::Write(nlohmann::json config_map, const std::vector<FanoutSlot>& slots,
                                const FanoutRequest& request) {
  if (config_map.is_null()) {
    config_map = {{"apiVersion", "v1"},
                  {"kind", "ConfigMap"},
                  {"metadata",
                   {{"name", ConfigMapName(request.parent_run)},
                    {"namespace", request.namespace_name},
                    {"labels",
                     {{v1alpha1::keys::kRun, SanitizeLabelValue(request.parent_run)},
                      {"app.kubernetes.io/managed-by", "agentbudget-webhook"}}}}},
                  {"data", {{"run", request.parent_run}}}};
    if (request.owner.is_object()) {
      config_map["metadata"]["ownerReferences"] = nlohmann::json::array({request.owner});
    }
    config_map["data"]["slots"] = EncodeFanoutSlots(slots);
    auto created = client_.Create(kube::resources::kConfigMaps, request.namespace_name, config_map);
    if (!created.ok()) {
      return std::move(created).error();
    }
    return OkStatus();
  }
  config_map["data"]["slots"] = EncodeFanoutSlots(slots);
  const nlohmann::json& owners = core::Member(config_map, {"metadata", "ownerReferences"});
  if (request.owner.is_object() && (!owners.is_array() || owners.empty())) {
    config_map["metadata"]["ownerReferences"] = nlohmann::json::array({request.owner});
  }
  // metadata.resourceVersion stays as read: the update is conditional on it.
  auto updated = client_.Update(kube::resources::kConfigMaps, request.namespace_name, config_map);
  if (!updated.ok()) {
    return std::move(updated).error();
  }
  return OkStatus();
}

}  // namespace agentbudget::webhook
