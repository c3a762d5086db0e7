#include "common/event_loops.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <string>

#include "common/thread_name.h"

namespace agentbudget {

namespace asio = boost::asio;

EventLoops::EventLoops(size_t count, std::string_view name) {
  loops_.reserve(count);
  threads_.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    // A concurrency hint of 1: one thread runs the loop, which spares Asio some locking.
    loops_.push_back(std::make_unique<asio::io_context>(1));
  }
  for (size_t i = 0; i < count; ++i) {
    threads_.emplace_back([loop = loops_[i].get(), name = std::string(name) + std::to_string(i)] {
      NameThread(name);
      auto work = asio::make_work_guard(*loop);  // runs until Stop(), even with nothing queued
      loop->run();
    });
  }
}

EventLoops::~EventLoops() { Stop(); }

size_t EventLoops::Current() {
  for (size_t i = 0; i < loops_.size(); ++i) {
    if (loops_[i]->get_executor().running_in_this_thread()) {
      return i;
    }
  }
  return Next();
}

size_t EventLoops::Next() { return next_.fetch_add(1, std::memory_order_relaxed) % loops_.size(); }

void EventLoops::Stop() {
  if (stopped_.exchange(true)) {
    return;
  }
  for (auto& loop : loops_) {
    loop->stop();
  }
  for (std::thread& thread : threads_) {
    thread.join();
  }
}

}  // namespace agentbudget
