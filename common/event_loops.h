#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace agentbudget {

// A fixed set of event loops, each an Asio io_context run by exactly one thread of its own.
// What runs on one loop runs on one thread, one handler at a time: objects bound to a loop
// need no strand and no lock, and handing work from one of its handlers to another object
// of the same loop runs it inline instead of waking another thread. Servers and clients
// that share a set put one exchange (a client's request and the upstream call it makes) on
// one loop. Thread-safe.
class EventLoops {
 public:
  // Starts `count` loops, their threads named `name` and a number (NameThread).
  // REQUIRES: count > 0.
  explicit EventLoops(size_t count, std::string_view name = "loop");
  ~EventLoops();  // Stop()s, then destroys what is still queued, loop by loop
  EventLoops(const EventLoops&) = delete;
  EventLoops& operator=(const EventLoops&) = delete;

  size_t size() const { return loops_.size(); }
  boost::asio::io_context& loop(size_t index) { return *loops_[index]; }

  // The index of the loop running the calling thread; when the caller runs on none of
  // them, the next loop in turn, which spreads callers from elsewhere over all loops.
  size_t Current();
  // The next loop in turn (for a new connection).
  size_t Next();

  // Stops every loop and waits for its thread: handlers running now finish, queued ones do
  // not run (they are destroyed with the loops). Idempotent; not from a loop's own thread.
  void Stop();

 private:
  std::vector<std::unique_ptr<boost::asio::io_context>> loops_;
  std::vector<std::thread> threads_;  // threads_[i] runs loops_[i]
  std::atomic<size_t> next_{0};
  std::atomic<bool> stopped_{false};
};

}  // namespace agentbudget
