#include "common/event_loops.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <set>
#include <string>
#include <thread>

#include "common/thread_name.h"

namespace agentbudget {
namespace {

// What `step` returns when run on loop `index`, and the thread that ran it.
template <class Step>
std::pair<size_t, std::thread::id> OnLoop(EventLoops& loops, size_t index, Step step) {
  std::promise<std::pair<size_t, std::thread::id>> ran;
  boost::asio::post(loops.loop(index), [&] { ran.set_value({step(), std::this_thread::get_id()}); });
  return ran.get_future().get();
}

TEST(EventLoopsTest, CurrentNamesTheLoopRunningTheCaller) {
  EventLoops loops(3);
  std::set<std::thread::id> threads;
  for (size_t i = 0; i < loops.size(); ++i) {
    const auto [current, thread] = OnLoop(loops, i, [&] { return loops.Current(); });
    EXPECT_EQ(current, i);
    EXPECT_NE(thread, std::this_thread::get_id());
    threads.insert(thread);
  }
  EXPECT_EQ(threads.size(), 3u) << "each loop runs on a thread of its own";
}

// The name the kernel gives the calling thread.
std::string CurrentThreadName() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof name);
  return name;
}

TEST(EventLoopsTest, EachLoopsThreadIsNamedForWhatItRuns) {
  EventLoops loops(2, "proxy");
  std::promise<std::string> named;
  boost::asio::post(loops.loop(1), [&named] { named.set_value(CurrentThreadName()); });
  EXPECT_EQ(named.get_future().get(), "proxy1");
}

TEST(EventLoopsTest, AThreadNameIsCutToTheKernelsFifteenCharacters) {
  std::string name;
  std::thread([&name] {
    NameThread("authority-client-loop");
    name = CurrentThreadName();
  }).join();
  EXPECT_EQ(name, "authority-clien");
}

TEST(EventLoopsTest, CallersFromElsewhereAreSpreadOverEveryLoop) {
  EventLoops loops(3);
  std::set<size_t> chosen;
  for (int i = 0; i < 3; ++i) {
    chosen.insert(loops.Current());
  }
  EXPECT_EQ(chosen, (std::set<size_t>{0, 1, 2}));
}

TEST(EventLoopsTest, StopWaitsForTheRunningHandlerAndIsIdempotent) {
  EventLoops loops(1);
  std::promise<void> started;
  bool finished = false;
  boost::asio::post(loops.loop(0), [&] {
    started.set_value();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    finished = true;
  });
  started.get_future().wait();
  loops.Stop();
  EXPECT_TRUE(finished);
  loops.Stop();
}

}  // namespace
}  // namespace agentbudget
