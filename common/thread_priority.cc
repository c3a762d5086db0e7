#include "common/thread_priority.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/log.h"
#include "common/thread_name.h"

namespace agentbudget {

void NameBackgroundThread(std::string_view name) {
  NameThread(name);
  // PRIO_PROCESS with a thread id sets that thread's nice value alone.
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kBackgroundNice) != 0) {
    log::Warn("thread priority not lowered", {{"thread", std::string(name)},
                                              {"nice", kBackgroundNice},
                                              {"error", std::strerror(errno)}});
  }
}

}  // namespace agentbudget
