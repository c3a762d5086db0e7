#pragma once

#include <cstdint>
#include <string>

namespace agentbudget {

// What tells a changed file from an unchanged one without reading it: its inode, size and
// modification time. stat() follows links, so the `..data` symlink swap of a mounted Secret
// or ConfigMap reads as a change. A value type.
struct FileStamp {
  uint64_t inode = 0;
  int64_t size = -1;  // -1: the file could not be stat()ed
  int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

// The stamp of `path` now; size -1 when it cannot be stat()ed.
FileStamp StampOf(const std::string& path);

}  // namespace agentbudget
