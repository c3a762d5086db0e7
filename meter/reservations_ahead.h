#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "core/money.h"
#include "meter/authority_client.h"

namespace agentbudget::meter {

// Reservations asked for before the calls that use them. A meter whose calls of one model
// come in quick succession holds a few of the authority's reservations for that model
// ready, so that a call takes one at once instead of waiting for a round trip to the
// authority; every call still spends against a reservation the authority granted before
// the call, and commits to it. Each is an ordinary reservation (POST /v1/reservations)
// for the estimate of the call that prompted it plus a quarter, so that the growing
// context of the next calls still fits.
//
// What this costs, and its bounds:
// - A decision is at most Options::fresh_for old when used: a held reservation not used
//   within it is released (by the caller: TakeStale, WaitForStale), and a budget crossing
//   its degrade threshold reaches the calls that long later at most.
// - Only a model called again within Options::hot_within is reserved ahead: an agent
//   calling every few seconds never is, and pays no extra reservation or release.
// - The number held and asked for, per model, follows the model's recent call rate: as many
//   as its calls in Options::cover, at least 1 and at most Options::max_per_model. The rate
//   is counted over windows of 100 ms: the last whole window's, or the current one's so far
//   when higher (so a burst is covered as it grows, not only from its second window). At
//   most Options::max_models models (tenant-chosen strings) are tracked at once. Once half of
//   that number is used, the rest is asked for at once (in one batch, by the caller): at
//   a high rate, one request to the authority for every few calls.
// - A denial or failed answer is dropped, and nothing more is asked ahead for that model
//   for Options::fresh_for: its calls then reserve one at a time, so a budget near its end
//   is not held by reservations made ahead, and the answer that denies a call is always
//   its own.
// Thread-safe; the caller makes the reservations and releases.
class ReservationsAhead {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    std::chrono::milliseconds fresh_for{2000};
    std::chrono::milliseconds hot_within{1000};
    std::chrono::milliseconds cover{20};
    size_t max_per_model = 32;
    size_t max_models = 8;
  };

  // A reservation granted ahead, with the request that asked for it.
  struct Held {
    Reservation reservation;
    std::string idempotency_key;
    core::Money estimate_cost;
    int64_t estimate_tokens = 0;
    Clock::time_point granted;
  };

  explicit ReservationsAhead(Options options) : options_(options) {}

  // The estimate to reserve ahead for, given a call's: a quarter more, rounded up.
  static core::Money AheadCost(core::Money call);
  static int64_t AheadTokens(int64_t call);

  // A call of `model` (of `provider`) arriving at `now` with this estimate: the oldest held
  // reservation for the model that is still fresh and covers the estimate, removed; nullopt
  // when there is none. Counts the call towards the model's rate.
  std::optional<Held> Take(const std::string& provider, const std::string& model,
                           core::Money estimate_cost, int64_t estimate_tokens,
                           Clock::time_point now) EXCLUDES(mu_);

  // After a call of `model` was allowed at `now`: how many reservations to ask for ahead
  // now (at most Options::max_per_model and kMaxBatch), counted as in flight until each
  // one's Arrived. 0 when the model is not called often enough, holds (or awaits) more than
  // half of what it should, is not tracked or after Close().
  size_t Want(const std::string& provider, const std::string& model, Clock::time_point now)
      EXCLUDES(mu_);

  // The answer at `now` to a reservation asked for ahead: held when granted (allow or
  // degrade); dropped when denied or failed (nullopt), which also stops asking ahead for the
  // model for Options::fresh_for. Returned when it cannot be held (its model is not
  // tracked, or Close() already handed back what was held): the caller releases it.
  std::optional<Held> Arrived(const std::string& provider, const std::string& model,
                              std::optional<Held> granted, Clock::time_point now)
      EXCLUDES(mu_);

  // The held reservations no longer fresh at `now`, removed: the caller releases them.
  std::vector<Held> TakeStale(Clock::time_point now) EXCLUDES(mu_);

  // Blocks until a held reservation goes stale (then returns those, removed) or until
  // Close() (then returns nothing).
  std::vector<Held> WaitForStale() EXCLUDES(mu_);

  // Stops holding: waits until every reservation asked for ahead was answered or
  // `deadline` passes, and returns all held, removed, for the caller to release. Later
  // answers are returned by Arrived() for release.
  std::vector<Held> Close(Clock::time_point deadline) EXCLUDES(mu_);

  // Reservations held, over all models.
  size_t held() const EXCLUDES(mu_);
  // Models tracked.
  size_t models() const EXCLUDES(mu_);

 private:
  struct Model {
    std::deque<Held> held;
    size_t in_flight = 0;
    // Nothing is asked ahead before this: set by a denied or failed answer ahead.
    Clock::time_point quiet_until;
    bool hot = false;  // the last call came within hot_within of the one before it
    std::optional<Clock::time_point> last_call;
    // Calls in the current and in the previous window of kRateWindow.
    Clock::time_point window_start;
    size_t current = 0;
    size_t previous = 0;
  };

  // The model's state, tracked from now on when there is room (evicting the least recently
  // called model that holds and awaits nothing); nullptr when there is none.
  Model* Track(const std::string& key, Clock::time_point now) REQUIRES(mu_);
  std::optional<Clock::time_point> NextStaleLocked() const REQUIRES(mu_);

  const Options options_;
  mutable Mutex mu_;
  CondVar changed_;  // a reservation was held or answered, or Close()
  std::map<std::string, Model> models_ GUARDED_BY(mu_);  // by provider + '\n' + model
  bool closed_ GUARDED_BY(mu_) = false;     // Close() was called
  bool collected_ GUARDED_BY(mu_) = false;  // Close() handed back what was held
};

}  // namespace agentbudget::meter
