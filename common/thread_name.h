#pragma once

#include <string_view>

namespace agentbudget {

// Names the calling thread `name`, cut to the kernel's 15 characters: what top -H, ps -L,
// perf and core dumps show for it, so that a component's CPU can be told apart by what its
// threads do (a proxy loop, the spool writer, a commit sender).
void NameThread(std::string_view name);

}  // namespace agentbudget
