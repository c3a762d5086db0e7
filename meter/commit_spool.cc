#include "meter/commit_spool.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/log.h"

namespace agentbudget::meter {
namespace {

namespace fs = std::filesystem;
constexpr const char* kSuffix = ".json";

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// Parses "00000000000000000042.json" → 42; 0 for anything else (sequences start at 1).
uint64_t SequenceOf(const fs::path& path) {
  const std::string name = path.filename().string();
  if (name.size() != 20 + std::strlen(kSuffix) || !name.ends_with(kSuffix)) {
    return 0;
  }
  uint64_t value = 0;
  for (size_t i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') {
      return 0;
    }
    value = value * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  return value;
}

Status WriteAll(int fd, const std::string& data) {
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Unavailable(Errno("spool write"));
    }
    written += static_cast<size_t>(n);
  }
  return OkStatus();
}

}  // namespace

Result<std::unique_ptr<CommitSpool>> CommitSpool::Open(std::string dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return Unavailable("spool directory " + dir + ": " + ec.message());
  }
  uint64_t last = 0;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".tmp") {
      fs::remove(entry.path(), ec);
      continue;
    }
    last = std::max(last, SequenceOf(entry.path()));
  }
  if (ec) {
    return Unavailable("spool directory " + dir + ": " + ec.message());
  }
  return std::unique_ptr<CommitSpool>(new CommitSpool(std::move(dir), last + 1));
}

std::string CommitSpool::PathOf(uint64_t sequence) const {
  char name[32];
  std::snprintf(name, sizeof(name), "%020llu", static_cast<unsigned long long>(sequence));
  return dir_ + "/" + name + kSuffix;
}

Result<uint64_t> CommitSpool::Append(const nlohmann::json& entry) {
  uint64_t sequence = 0;
  {
    // Only the number is taken under the lock: appends write and sync their files side by
    // side, so that one slow fsync does not hold up the others.
    MutexLock lock(mu_);
    sequence = next_++;
  }
  const std::string path = PathOf(sequence);
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Unavailable(Errno("spool create " + tmp));
  }
  Status written = WriteAll(fd, entry.dump() + "\n");
  if (written.ok() && ::fsync(fd) != 0) {
    written = Unavailable(Errno("spool fsync"));
  }
  ::close(fd);
  if (written.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    written = Unavailable(Errno("spool rename"));
  }
  if (!written.ok()) {
    ::unlink(tmp.c_str());
    return std::move(written).error();
  }
  SyncDirectory();
  return sequence;
}

void CommitSpool::SyncDirectory() {
  uint64_t through = 0;
  {
    MutexLock lock(sync_mu_);
    const uint64_t ticket = ++sync_requested_;
    // A sync that started before this ticket may have missed the caller's rename: wait for
    // it to end, then either a later one covered the ticket or this caller syncs.
    while (syncing_ && sync_done_through_ < ticket) {
      synced_.Wait(sync_mu_);
    }
    if (sync_done_through_ >= ticket) {
      return;
    }
    syncing_ = true;
    through = sync_requested_;
  }
  if (const int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  MutexLock lock(sync_mu_);
  sync_done_through_ = through;
  syncing_ = false;
  synced_.SignalAll();
}

Status CommitSpool::Remove(uint64_t sequence) {
  if (::unlink(PathOf(sequence).c_str()) != 0 && errno != ENOENT) {
    return Unavailable(Errno("spool remove"));
  }
  return OkStatus();
}

std::vector<std::pair<uint64_t, nlohmann::json>> CommitSpool::Pending() const {
  std::vector<std::pair<uint64_t, nlohmann::json>> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const uint64_t sequence = SequenceOf(entry.path());
    if (sequence == 0) {
      continue;
    }
    std::ifstream file(entry.path());
    std::stringstream text;
    text << file.rdbuf();
    nlohmann::json parsed = nlohmann::json::parse(text.str(), nullptr, false);
    if (parsed.is_discarded()) {
      log::Error("unreadable spool entry left in place", {{"path", entry.path().string()}});
      continue;
    }
    out.emplace_back(sequence, std::move(parsed));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

}  // namespace agentbudget::meter
