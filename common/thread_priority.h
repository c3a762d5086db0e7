#pragma once

#include <string_view>

namespace agentbudget {

// The nice value of a component's background threads.
inline constexpr int kBackgroundNice = 10;

// Names the calling thread `name` (NameThread) and runs it at nice kBackgroundNice (Linux
// sets it per thread). For threads whose work no call is waiting on at that moment: syncing
// the meter's spool, sending commits the authority acknowledges a group commit later,
// releasing reservations held ahead. On a busy node a thread serving a call that wakes
// while they run then gets the core at once rather than after their time slice: the
// scheduler weighs a thread at nice 10 about a tenth of one at nice 0. An idle core still
// runs them at full speed, so they lose only what the calls take from them when every core
// is busy. Lowering a priority needs no privilege; a failure (e.g. a seccomp profile that
// refuses setpriority) is logged and the thread runs on at its priority.
void NameBackgroundThread(std::string_view name);

}  // namespace agentbudget
