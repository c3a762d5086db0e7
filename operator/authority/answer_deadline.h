#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <utility>

#include "common/http_server.h"
#include "common/mutex.h"

namespace agentbudget::authority {

// Bounds how long a client waits for an answer given later (a commit or event is answered
// once durable): whichever comes first, the real answer or the deadline `timeout` after
// Guard(), reaches `done`; the other is dropped. The deadline answers with `expired()`.
// Every deadline is `timeout` long, so they fall due in the order they were set: one
// thread sleeps until the oldest. Memory: one entry (about 100 bytes with the answer's
// state) per Guard() of the last `timeout`, answered or not, so at most the guard rate
// times `timeout`; an entry leaves when its deadline passes. Thread-safe.
class AnswerDeadline {
 public:
  using Done = std::function<void(http::Response)>;

  AnswerDeadline(std::chrono::milliseconds timeout, std::function<http::Response()> expired);
  // Stops the thread: answers still pending then get only their real answer.
  ~AnswerDeadline();
  AnswerDeadline(const AnswerDeadline&) = delete;
  AnswerDeadline& operator=(const AnswerDeadline&) = delete;

  // A function that answers `done` unless the deadline did first; `done` runs at most once,
  // on the caller's thread of whichever came first, and must not block.
  Done Guard(Done done) EXCLUDES(mu_);

  // Entries held: guards whose deadline has not passed yet.
  size_t size() const EXCLUDES(mu_);

 private:
  // `done` until one of the two answered.
  struct Once {
    Mutex mu;
    Done done GUARDED_BY(mu);
    void Answer(http::Response response) EXCLUDES(mu);
  };
  void Run() EXCLUDES(mu_);

  const std::chrono::milliseconds timeout_;
  const std::function<http::Response()> expired_;
  mutable Mutex mu_;
  CondVar wake_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::weak_ptr<Once>>> due_
      GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace agentbudget::authority
