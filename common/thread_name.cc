#include "common/thread_name.h"

#include <pthread.h>

#include <string>

namespace agentbudget {

void NameThread(std::string_view name) {
  // The kernel keeps 15 characters and the terminating NUL.
  const std::string cut(name.substr(0, 15));
  pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace agentbudget
