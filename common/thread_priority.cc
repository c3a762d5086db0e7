#include "common/thread_priority.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace agentbudget {

void LowerThreadPriority() {
  // PRIO_PROCESS with a thread id sets that thread's nice value alone.
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kBackgroundNice) != 0) {
    log::Warn("thread priority not lowered", {{"nice", kBackgroundNice},
                                              {"error", std::strerror(errno)}});
  }
}

}  // namespace agentbudget
