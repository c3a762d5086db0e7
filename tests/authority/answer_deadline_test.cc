#include "operator/authority/answer_deadline.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace agentbudget::authority {
namespace {

using std::chrono::milliseconds;

// The statuses a guarded `done` received.
struct Received {
  Mutex mu;
  std::vector<int> statuses GUARDED_BY(mu);

  AnswerDeadline::Done Done() {
    return [this](http::Response response) {
      MutexLock lock(mu);
      statuses.push_back(response.status);
    };
  }
  std::vector<int> Get() {
    MutexLock lock(mu);
    return statuses;
  }
  // Polls until `count` answers arrived, at most 5 s.
  std::vector<int> Await(size_t count) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
    while (Get().size() < count && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds{1});
    }
    return Get();
  }
};

http::Response Expired() { return http::Response{503, {}, "late"}; }

TEST(AnswerDeadlineTest, AnAnswerBeforeTheDeadlineIsTheOnlyOne) {
  Received received;
  AnswerDeadline deadline(milliseconds{20}, Expired);
  auto guarded = deadline.Guard(received.Done());
  guarded(http::Response{200, {}, "ok"});
  // A later guard's deadline passing shows the first one's has passed too.
  Received later;
  auto unanswered = deadline.Guard(later.Done());
  EXPECT_EQ(later.Await(1), std::vector<int>{503});
  EXPECT_EQ(received.Get(), std::vector<int>{200});
}

TEST(AnswerDeadlineTest, TheDeadlineAnswersAndTheLateAnswerIsDropped) {
  Received received;
  AnswerDeadline deadline(milliseconds{20}, Expired);
  auto guarded = deadline.Guard(received.Done());
  EXPECT_EQ(received.Await(1), std::vector<int>{503});
  guarded(http::Response{200, {}, "ok"});
  EXPECT_EQ(received.Get(), std::vector<int>{503});
}

TEST(AnswerDeadlineTest, EveryUnansweredGuardGetsOneExpiredAnswer) {
  AnswerDeadline deadline(milliseconds{10}, Expired);
  std::vector<Received> received(50);
  std::vector<AnswerDeadline::Done> guarded;
  for (Received& one : received) {
    guarded.push_back(deadline.Guard(one.Done()));
  }
  for (Received& one : received) {
    EXPECT_EQ(one.Await(1), std::vector<int>{503});
  }
}

TEST(AnswerDeadlineTest, EntriesLeaveWhenTheirDeadlinePassesAnsweredOrNot) {
  // Long enough that none falls due while the guards are set.
  AnswerDeadline deadline(milliseconds{2000}, Expired);
  Received answered;
  Received unanswered;
  std::vector<AnswerDeadline::Done> pending;
  for (int i = 0; i < 1000; ++i) {
    deadline.Guard(answered.Done())(http::Response{200, {}, "ok"});
    pending.push_back(deadline.Guard(unanswered.Done()));
  }
  // Held for their deadline whether answered or not: the bound is guards per `timeout`.
  EXPECT_EQ(deadline.size(), 2000u);
  EXPECT_EQ(unanswered.Await(1000).size(), 1000u);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds{5};
  while (deadline.size() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(milliseconds{1});
  }
  EXPECT_EQ(deadline.size(), 0u);
  EXPECT_EQ(answered.Get().size(), 1000u);
}

}  // namespace
}  // namespace agentbudget::authority
