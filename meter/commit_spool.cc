#include "meter/commit_spool.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
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

// Reads one stored entry; nullopt (reported in the log) when it is not JSON.
std::optional<std::string> ReadEntry(const fs::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  if (!file || nlohmann::json::parse(text.str(), nullptr, false).is_discarded()) {
    log::Error("unreadable spool entry left in place", {{"path", path.string()}});
    return std::nullopt;
  }
  return text.str();
}

}  // namespace

Result<std::unique_ptr<CommitSpool>> CommitSpool::Open(std::string dir, size_t max_entries) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return Unavailable("spool directory " + dir + ": " + ec.message());
  }
  uint64_t last = 0;
  std::map<uint64_t, std::string> entries;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".tmp") {
      fs::remove(entry.path(), ec);
      continue;
    }
    const uint64_t sequence = SequenceOf(entry.path());
    last = std::max(last, sequence);
    if (sequence == 0) {
      continue;
    }
    if (auto text = ReadEntry(entry.path())) {
      entries.emplace(sequence, std::move(*text));
    }
  }
  if (ec) {
    return Unavailable("spool directory " + dir + ": " + ec.message());
  }
  return std::unique_ptr<CommitSpool>(
      new CommitSpool(std::move(dir), max_entries, std::move(entries), last + 1));
}

CommitSpool::CommitSpool(std::string dir, size_t max_entries,
                         std::map<uint64_t, std::string> entries, uint64_t next)
    : dir_(std::move(dir)), max_entries_(max_entries), entries_(std::move(entries)), next_(next) {}

std::string CommitSpool::PathOf(uint64_t sequence) const {
  char name[32];
  std::snprintf(name, sizeof(name), "%020llu", static_cast<unsigned long long>(sequence));
  return dir_ + "/" + name + kSuffix;
}

Result<uint64_t> CommitSpool::Append(const nlohmann::json& entry) {
  uint64_t sequence = 0;
  {
    // Only the number (and a place below the bound) is taken under the lock: appends write
    // and sync their files side by side, so that one slow fsync does not hold up the others.
    MutexLock lock(mu_);
    if (entries_.size() + appending_ >= max_entries_) {
      return MakeError(ErrorCode::kResourceExhausted,
                       "spool " + dir_ + " full: " + std::to_string(max_entries_) +
                           " entries the authority has not acknowledged");
    }
    ++appending_;
    sequence = next_++;
  }
  std::string text = entry.dump() + "\n";
  const std::string path = PathOf(sequence);
  const std::string tmp = path + ".tmp";
  Status written = OkStatus();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    written = Unavailable(Errno("spool create " + tmp));
  } else {
    written = WriteAll(fd, text);
    if (written.ok() && ::fsync(fd) != 0) {
      written = Unavailable(Errno("spool fsync"));
    }
    ::close(fd);
    if (written.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
      written = Unavailable(Errno("spool rename"));
    }
    if (!written.ok()) {
      ::unlink(tmp.c_str());
    }
  }
  if (written.ok()) {
    SyncDirectory();
  }
  MutexLock lock(mu_);
  --appending_;
  if (!written.ok()) {
    return std::move(written).error();
  }
  entries_.emplace(sequence, std::move(text));
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
  MutexLock lock(mu_);
  entries_.erase(sequence);
  return OkStatus();
}

std::vector<CommitSpool::Entry> CommitSpool::Pending() const { return Oldest(SIZE_MAX); }

std::vector<CommitSpool::Entry> CommitSpool::Oldest(size_t limit,
                                                    const std::set<uint64_t>& skip) const {
  std::vector<std::pair<uint64_t, std::string>> texts;
  {
    MutexLock lock(mu_);
    for (auto it = entries_.begin(); it != entries_.end() && texts.size() < limit; ++it) {
      if (!skip.contains(it->first)) {
        texts.emplace_back(*it);
      }
    }
  }
  std::vector<Entry> out;
  out.reserve(texts.size());
  for (auto& [sequence, text] : texts) {
    // Every text was parsed once already, when it was stored or loaded.
    out.emplace_back(sequence, nlohmann::json::parse(text, nullptr, false));
  }
  return out;
}

size_t CommitSpool::size() const {
  MutexLock lock(mu_);
  return entries_.size();
}

bool CommitSpool::full() const {
  MutexLock lock(mu_);
  return entries_.size() + appending_ >= max_entries_;
}

}  // namespace agentbudget::meter
