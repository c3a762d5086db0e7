#include "meter/reservations_ahead.h"

#include <algorithm>

namespace agentbudget::meter {
namespace {

// The call rate is counted over windows this long.
constexpr std::chrono::milliseconds kRateWindow{100};

std::string KeyOf(const std::string& provider, const std::string& model) {
  return provider + '\n' + model;
}

}  // namespace

core::Money ReservationsAhead::AheadCost(core::Money call) {
  return core::Money::FromMicros(call.micros() + (call.micros() + 3) / 4);
}

int64_t ReservationsAhead::AheadTokens(int64_t call) { return call + (call + 3) / 4; }

ReservationsAhead::Model* ReservationsAhead::Track(const std::string& key,
                                                   Clock::time_point now) {
  if (auto found = models_.find(key); found != models_.end()) {
    return &found->second;
  }
  if (closed_) {
    return nullptr;
  }
  if (models_.size() >= options_.max_models) {
    auto idle = models_.end();
    for (auto it = models_.begin(); it != models_.end(); ++it) {
      if (it->second.held.empty() && it->second.in_flight == 0 &&
          (idle == models_.end() || it->second.last_call < idle->second.last_call)) {
        idle = it;
      }
    }
    if (idle == models_.end()) {
      return nullptr;
    }
    models_.erase(idle);
  }
  Model& model = models_[key];
  model.window_start = now;
  return &model;
}

std::optional<ReservationsAhead::Held> ReservationsAhead::Take(const std::string& provider,
                                                               const std::string& model,
                                                               core::Money estimate_cost,
                                                               int64_t estimate_tokens,
                                                               Clock::time_point now) {
  MutexLock lock(mu_);
  Model* state = Track(KeyOf(provider, model), now);
  if (state == nullptr) {
    return std::nullopt;
  }
  if (now - state->window_start >= kRateWindow) {
    state->previous = now - state->window_start < 2 * kRateWindow ? state->current : 0;
    state->current = 0;
    state->window_start = now;
  }
  ++state->current;
  state->hot = state->last_call && now - *state->last_call <= options_.hot_within;
  state->last_call = now;
  for (auto it = state->held.begin(); it != state->held.end(); ++it) {
    if (now - it->granted <= options_.fresh_for && it->estimate_cost >= estimate_cost &&
        it->estimate_tokens >= estimate_tokens) {
      Held taken = std::move(*it);
      state->held.erase(it);
      return taken;
    }
  }
  return std::nullopt;
}

size_t ReservationsAhead::Want(const std::string& provider, const std::string& model,
                               Clock::time_point now) {
  MutexLock lock(mu_);
  Model* state = Track(KeyOf(provider, model), now);
  if (state == nullptr || closed_ || !state->hot || now < state->quiet_until) {
    return 0;
  }
  // Calls per window: the previous window's, or the current one's so far when more.
  const size_t rate = std::max(state->previous, state->current);
  const size_t rate_cover =
      rate * static_cast<size_t>(options_.cover.count()) / kRateWindow.count();
  const size_t target = std::min({options_.max_per_model, kMaxBatch, 1 + rate_cover});
  const size_t have = state->held.size() + state->in_flight;
  // Refilled once half is used, in one batch: a batch per half of the target's calls.
  const size_t ask = 2 * have <= target ? target - have : 0;
  state->in_flight += ask;
  return ask;
}

std::optional<ReservationsAhead::Held> ReservationsAhead::Arrived(const std::string& provider,
                                                                  const std::string& model,
                                                                  std::optional<Held> granted,
                                                                  Clock::time_point now) {
  MutexLock lock(mu_);
  if (closed_) {
    changed_.SignalAll();  // Close waits for every answer
  }
  // A model with an answer outstanding is never evicted, so it is found.
  auto found = models_.find(KeyOf(provider, model));
  if (found != models_.end() && found->second.in_flight > 0) {
    --found->second.in_flight;
  }
  if (!granted || granted->reservation.decision == Decision::kDeny) {
    if (found != models_.end()) {
      found->second.quiet_until = now + options_.fresh_for;
    }
    return std::nullopt;
  }
  if (collected_ || found == models_.end()) {
    return granted;
  }
  // Only a first held reservation can bring the next one to go stale nearer: the releaser
  // is woken for that alone, not once for every reservation of a batch.
  if (found->second.held.empty()) {
    changed_.SignalAll();
  }
  found->second.held.push_back(std::move(*granted));
  return std::nullopt;
}

std::vector<ReservationsAhead::Held> ReservationsAhead::TakeStale(Clock::time_point now) {
  MutexLock lock(mu_);
  std::vector<Held> stale;
  for (auto& [key, model] : models_) {
    // Held in the order granted: the stale ones are in front.
    while (!model.held.empty() && now - model.held.front().granted > options_.fresh_for) {
      stale.push_back(std::move(model.held.front()));
      model.held.pop_front();
    }
  }
  return stale;
}

std::optional<ReservationsAhead::Clock::time_point> ReservationsAhead::NextStaleLocked() const {
  std::optional<Clock::time_point> next;
  for (const auto& [key, model] : models_) {
    if (!model.held.empty()) {
      const Clock::time_point stale = model.held.front().granted + options_.fresh_for;
      next = next ? std::min(*next, stale) : stale;
    }
  }
  return next;
}

std::vector<ReservationsAhead::Held> ReservationsAhead::WaitForStale() {
  {
    MutexLock lock(mu_);
    while (!closed_) {
      const std::optional<Clock::time_point> next = NextStaleLocked();
      if (next && Clock::now() > *next) {
        break;
      }
      if (next) {
        changed_.WaitUntil(mu_, *next + std::chrono::milliseconds(1));
      } else {
        changed_.Wait(mu_);
      }
    }
    if (closed_) {
      return {};
    }
  }
  return TakeStale(Clock::now());
}

std::vector<ReservationsAhead::Held> ReservationsAhead::Close(Clock::time_point deadline) {
  MutexLock lock(mu_);
  closed_ = true;
  changed_.SignalAll();
  const auto answered = [this]() REQUIRES(mu_) {
    return std::all_of(models_.begin(), models_.end(),
                       [](const auto& entry) { return entry.second.in_flight == 0; });
  };
  changed_.WaitUntil(mu_, deadline, answered);
  collected_ = true;
  std::vector<Held> all;
  for (auto& [key, model] : models_) {
    std::move(model.held.begin(), model.held.end(), std::back_inserter(all));
    model.held.clear();
  }
  return all;
}

size_t ReservationsAhead::held() const {
  MutexLock lock(mu_);
  size_t count = 0;
  for (const auto& [key, model] : models_) {
    count += model.held.size();
  }
  return count;
}

size_t ReservationsAhead::models() const {
  MutexLock lock(mu_);
  return models_.size();
}

}  // namespace agentbudget::meter
