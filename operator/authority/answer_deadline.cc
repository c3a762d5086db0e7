#include "operator/authority/answer_deadline.h"

namespace agentbudget::authority {

void AnswerDeadline::Once::Answer(http::Response response) {
  Done taken;
  {
    MutexLock lock(mu);
    taken = std::exchange(done, nullptr);
  }
  if (taken) {
    taken(std::move(response));
  }
}

AnswerDeadline::AnswerDeadline(std::chrono::milliseconds timeout,
                               std::function<http::Response()> expired)
    : timeout_(timeout), expired_(std::move(expired)), thread_([this] { Run(); }) {}

AnswerDeadline::~AnswerDeadline() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.SignalAll();
  thread_.join();
}

AnswerDeadline::Done AnswerDeadline::Guard(Done done) {
  auto once = std::make_shared<Once>();
  {
    MutexLock lock(once->mu);
    once->done = std::move(done);
  }
  bool wake = false;
  {
    MutexLock lock(mu_);
    wake = due_.empty();
    due_.emplace_back(std::chrono::steady_clock::now() + timeout_, once);
  }
  if (wake) {
    wake_.SignalAll();
  }
  return [once](http::Response response) { once->Answer(std::move(response)); };
}

size_t AnswerDeadline::size() const {
  MutexLock lock(mu_);
  return due_.size();
}

void AnswerDeadline::Run() {
  MutexLock lock(mu_);
  while (!stopping_) {
    if (due_.empty()) {
      wake_.Wait(mu_);
      continue;
    }
    const auto [deadline, guarded] = due_.front();
    if (std::chrono::steady_clock::now() < deadline) {
      wake_.WaitUntil(mu_, deadline);
      continue;
    }
    due_.pop_front();
    if (std::shared_ptr<Once> once = guarded.lock()) {
      // Answered without the lock, so that Guard() never waits for a client's answer.
      MutexUnlock unlocked(mu_);
      once->Answer(expired_());
    }
  }
}

}  // namespace agentbudget::authority
