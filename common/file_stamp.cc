#include "common/file_stamp.h"

#include <sys/stat.h>

namespace agentbudget {

FileStamp StampOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return FileStamp{};
  }
  return FileStamp{static_cast<uint64_t>(st.st_ino), static_cast<int64_t>(st.st_size),
                   static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
                       st.st_mtim.tv_nsec};
}

}  // namespace agentbudget
