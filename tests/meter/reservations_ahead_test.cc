#include "meter/reservations_ahead.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace agentbudget::meter {
namespace {

using core::Money;
using Clock = ReservationsAhead::Clock;
using std::chrono::milliseconds;

const Clock::time_point kStart = Clock::time_point() + std::chrono::hours(1);
const Money kCost = Money::FromMicros(40'000);

ReservationsAhead::Held Granted(const std::string& id, Clock::time_point at,
                                Decision decision = Decision::kAllow) {
  return {{id, decision, "claude-sonnet-4-5", ""},
          "key-" + id,
          ReservationsAhead::AheadCost(kCost),
          ReservationsAhead::AheadTokens(1000),
          at};
}

// One call of the model at `at`: what it took, after which the reservations asked ahead
// (`Want`) are granted at once as ids "<prefix><n>".
std::optional<ReservationsAhead::Held> Call(ReservationsAhead& ahead, Clock::time_point at,
                                            const std::string& model = "claude-sonnet-4-5") {
  static int granted = 0;
  auto taken = ahead.Take("anthropic", model, kCost, 1000, at);
  for (size_t n = ahead.Want("anthropic", model, at); n > 0; --n) {
    EXPECT_FALSE(ahead.Arrived("anthropic", model, Granted("a" + std::to_string(++granted), at),
                               at));
  }
  return taken;
}

TEST(ReservationsAheadTest, TheEstimateAheadIsAQuarterMoreRoundedUp) {
  EXPECT_EQ(ReservationsAhead::AheadCost(Money::FromMicros(40'000)).micros(), 50'000);
  EXPECT_EQ(ReservationsAhead::AheadCost(Money::FromMicros(1)).micros(), 2);
  EXPECT_EQ(ReservationsAhead::AheadTokens(1000), 1250);
  EXPECT_EQ(ReservationsAhead::AheadTokens(0), 0);
}

TEST(ReservationsAheadTest, AModelCalledRarelyIsNeverReservedAhead) {
  ReservationsAhead ahead({});
  for (int i = 0; i < 5; ++i) {
    const auto at = kStart + std::chrono::seconds(2 * i);
    EXPECT_FALSE(ahead.Take("anthropic", "m", kCost, 1000, at));
    EXPECT_EQ(ahead.Want("anthropic", "m", at), 0u) << "call " << i;
  }
}

TEST(ReservationsAheadTest, AModelCalledAgainSoonIsReservedAheadAndItsNextCallTakesIt) {
  ReservationsAhead ahead({});
  EXPECT_FALSE(ahead.Take("anthropic", "m", kCost, 1000, kStart));
  EXPECT_EQ(ahead.Want("anthropic", "m", kStart), 0u);
  const auto second = kStart + milliseconds(300);
  EXPECT_FALSE(ahead.Take("anthropic", "m", kCost, 1000, second));
  ASSERT_EQ(ahead.Want("anthropic", "m", second), 1u);
  EXPECT_FALSE(ahead.Arrived("anthropic", "m", Granted("r-7", second), second));
  EXPECT_EQ(ahead.held(), 1u);
  // Another model, or a provider, takes nothing held for this one.
  EXPECT_FALSE(ahead.Take("openai", "m", kCost, 1000, second));
  EXPECT_FALSE(ahead.Take("anthropic", "other", kCost, 1000, second));

  auto taken = ahead.Take("anthropic", "m", kCost, 1000, second + milliseconds(300));
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->reservation.id, "r-7");
  EXPECT_EQ(taken->idempotency_key, "key-r-7");
  EXPECT_EQ(ahead.held(), 0u);
}

TEST(ReservationsAheadTest, AHeldReservationIsTakenOnlyWhileFreshAndLargeEnough) {
  ReservationsAhead ahead({});
  // For a model not tracked: handed back, to be released.
  EXPECT_TRUE(ahead.Arrived("anthropic", "m", Granted("r-0", kStart), kStart));
  ahead.Take("anthropic", "m", kCost, 1000, kStart);  // tracks the model
  EXPECT_FALSE(ahead.Arrived("anthropic", "m", Granted("r-1", kStart), kStart));
  ASSERT_EQ(ahead.held(), 1u);

  // Larger than held (50,000 micros, 1,250 tokens): left held.
  EXPECT_FALSE(ahead.Take("anthropic", "m", Money::FromMicros(50'001), 10, kStart));
  EXPECT_FALSE(ahead.Take("anthropic", "m", kCost, 1251, kStart));
  EXPECT_EQ(ahead.held(), 1u);
  // Too old: left for TakeStale.
  const auto stale = kStart + milliseconds(2001);
  EXPECT_FALSE(ahead.Take("anthropic", "m", kCost, 1000, stale));
  EXPECT_TRUE(ahead.TakeStale(kStart + milliseconds(2000)).empty());
  const auto released = ahead.TakeStale(stale);
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released[0].reservation.id, "r-1");
  EXPECT_EQ(ahead.held(), 0u);
}

// One call a millisecond from kStart for `ms` ms: the most held at once, and how many
// calls took a reservation held ahead.
std::pair<size_t, int> CallEveryMillisecond(ReservationsAhead& ahead, int ms) {
  size_t most = 0;
  int taken = 0;
  for (int at = 0; at < ms; ++at) {
    taken += Call(ahead, kStart + milliseconds(at)).has_value();
    most = std::max(most, ahead.held());
  }
  return {most, taken};
}

TEST(ReservationsAheadTest, AsManyAreHeldAsTheCallsOfTwentyMillisecondsAtMostThirtyTwo) {
  ReservationsAhead ahead({});
  // 1,000 calls a second for half a second: about 20 calls come within any 20 ms.
  auto [most, taken] = CallEveryMillisecond(ahead, 500);
  EXPECT_EQ(most, 21u);
  EXPECT_GT(taken, 450);
  // 10,000 a second: bounded.
  for (int us = 0; us < 500'000; us += 100) {
    Call(ahead, kStart + milliseconds(500) + std::chrono::microseconds(us));
    most = std::max(most, ahead.held());
  }
  EXPECT_EQ(most, 32u);
}

TEST(ReservationsAheadTest, ABurstIsCoveredAsItGrowsWithinItsFirstWindow) {
  ReservationsAhead ahead({});
  // 1,000 calls a second from the first: by 60 ms, more than the first window's 1 are held.
  const auto [most, taken] = CallEveryMillisecond(ahead, 60);
  EXPECT_GE(most, 10u);
  EXPECT_GT(taken, 55);
}

TEST(ReservationsAheadTest, OnceHalfIsUsedTheRestIsAskedForAtOnce) {
  ReservationsAhead ahead({});
  for (int ms = 0; ms < 300; ++ms) {  // 1,000 calls a second: 21 held
    Call(ahead, kStart + milliseconds(ms));
  }
  std::vector<size_t> asks;
  for (int ms = 300; ms < 600; ++ms) {
    const auto at = kStart + milliseconds(ms);
    ASSERT_TRUE(ahead.Take("anthropic", "claude-sonnet-4-5", kCost, 1000, at));
    if (const size_t ask = ahead.Want("anthropic", "claude-sonnet-4-5", at); ask > 0) {
      asks.push_back(ask);
      for (size_t n = 0; n < ask; ++n) {
        ahead.Arrived("anthropic", "claude-sonnet-4-5", Granted("b", at), at);
      }
    }
    EXPECT_GE(ahead.held(), 10u) << ms;
    EXPECT_LE(ahead.held(), 21u) << ms;
  }
  // 300 calls took 300 held: refilled 11 at a time (from 10 to 21), 27 or 28 times.
  EXPECT_GE(asks.size(), 27u);
  EXPECT_LE(asks.size(), 28u);
  for (size_t ask : asks) {
    EXPECT_EQ(ask, 11u);
  }
}

TEST(ReservationsAheadTest, ADeniedOrFailedAnswerStopsAskingAheadForTheFreshPeriod) {
  ReservationsAhead ahead({});
  ahead.Take("anthropic", "m", kCost, 1000, kStart);
  const auto at = kStart + milliseconds(10);
  ahead.Take("anthropic", "m", kCost, 1000, at);
  ASSERT_EQ(ahead.Want("anthropic", "m", at), 1u);
  EXPECT_FALSE(ahead.Arrived("anthropic", "m", Granted("r-2", at, Decision::kDeny), at));
  EXPECT_EQ(ahead.held(), 0u);
  for (int ms = 500; ms < 2000; ms += 500) {
    ahead.Take("anthropic", "m", kCost, 1000, at + milliseconds(ms));
    EXPECT_EQ(ahead.Want("anthropic", "m", at + milliseconds(ms)), 0u) << ms << " ms later";
  }
  const auto later = at + milliseconds(2500);
  ahead.Take("anthropic", "m", kCost, 1000, later);
  ASSERT_EQ(ahead.Want("anthropic", "m", later), 1u);
  EXPECT_FALSE(ahead.Arrived("anthropic", "m", std::nullopt, later));  // failed
  EXPECT_EQ(ahead.Want("anthropic", "m", later + milliseconds(500)), 0u);
}

TEST(ReservationsAheadTest, AtMostEightModelsAreTrackedAndIdleOnesMakeRoom) {
  ReservationsAhead ahead({});
  for (int m = 0; m < 20; ++m) {
    const std::string model = "model-" + std::to_string(m);
    Call(ahead, kStart, model);
    Call(ahead, kStart + milliseconds(1), model);
  }
  EXPECT_EQ(ahead.models(), 8u);
  EXPECT_EQ(ahead.held(), 8u);
  // Once their reservations went stale, the tracked models hold nothing and make room.
  EXPECT_EQ(ahead.TakeStale(kStart + std::chrono::seconds(3)).size(), 8u);
  const auto later = kStart + std::chrono::seconds(3);
  Call(ahead, later, "model-19");
  Call(ahead, later + milliseconds(1), "model-19");
  EXPECT_EQ(ahead.models(), 8u);
  EXPECT_EQ(ahead.held(), 1u);
}

TEST(ReservationsAheadTest, CloseHandsBackEveryHeldAndEveryLaterAnswer) {
  ReservationsAhead ahead({});
  ahead.Take("anthropic", "m", kCost, 1000, kStart);
  ahead.Take("anthropic", "m", kCost, 1000, kStart + milliseconds(1));
  ASSERT_EQ(ahead.Want("anthropic", "m", kStart + milliseconds(1)), 1u);
  // One answer outstanding: Close waits for it until its deadline only.
  const auto closed = ahead.Close(Clock::now() + milliseconds(10));
  EXPECT_TRUE(closed.empty());
  auto late = ahead.Arrived("anthropic", "m", Granted("r-late", kStart), kStart);
  ASSERT_TRUE(late);
  EXPECT_EQ(late->reservation.id, "r-late");
  EXPECT_EQ(ahead.Want("anthropic", "m", kStart + milliseconds(2)), 0u);
  EXPECT_TRUE(ahead.WaitForStale().empty());
}

TEST(ReservationsAheadTest, CloseReturnsWhatIsHeldOnceTheAnswersOutstandingCame) {
  ReservationsAhead ahead({});
  ahead.Take("anthropic", "m", kCost, 1000, kStart);
  ahead.Take("anthropic", "m", kCost, 1000, kStart + milliseconds(1));
  ASSERT_EQ(ahead.Want("anthropic", "m", kStart + milliseconds(1)), 1u);
  std::thread answer([&ahead] {
    std::this_thread::sleep_for(milliseconds(50));
    ahead.Arrived("anthropic", "m", Granted("r-1", kStart), kStart);
  });
  const auto closed = ahead.Close(Clock::now() + std::chrono::seconds(30));
  answer.join();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].reservation.id, "r-1");
}

TEST(ReservationsAheadTest, WaitForStaleReturnsAHeldReservationOnceItIsNoLongerFresh) {
  ReservationsAhead::Options options;
  options.fresh_for = milliseconds(30);
  ReservationsAhead ahead(options);
  const auto now = Clock::now();
  ahead.Take("anthropic", "m", kCost, 1000, now);
  EXPECT_FALSE(ahead.Arrived("anthropic", "m", Granted("r-1", now), now));
  const auto stale = ahead.WaitForStale();
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_EQ(stale[0].reservation.id, "r-1");
  EXPECT_GT(Clock::now() - now, options.fresh_for);

  std::thread closer([&ahead] {
    std::this_thread::sleep_for(milliseconds(20));
    ahead.Close(Clock::now());
  });
  EXPECT_TRUE(ahead.WaitForStale().empty());
  closer.join();
}

}  // namespace
}  // namespace agentbudget::meter
