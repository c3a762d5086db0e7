#include "meter/commit_spool.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <string_view>

#include "common/log.h"
#include "common/thread_priority.h"

namespace agentbudget::meter {
namespace {

namespace fs = std::filesystem;
constexpr std::string_view kSegmentSuffix = ".log";
constexpr std::string_view kCorruptSuffix = ".corrupt";

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

std::optional<uint64_t> ParseNumber(std::string_view digits) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return value;
}

// A segment's file name, "00000000000000000042.log" (also with ".corrupt" after it) → 42.
std::optional<uint64_t> SegmentNumberOf(std::string_view name) {
  if (name.ends_with(kCorruptSuffix)) {
    name.remove_suffix(kCorruptSuffix.size());
  }
  if (name.size() != 20 + kSegmentSuffix.size() || !name.ends_with(kSegmentSuffix)) {
    return std::nullopt;
  }
  return ParseNumber(name.substr(0, 20));
}

void AddRecord(std::string& out, uint64_t sequence, std::string_view text) {
  out += '+';
  out += std::to_string(sequence);
  out += ' ';
  out += text;
  out += '\n';
}

std::string RemovalRecord(uint64_t sequence) { return "-" + std::to_string(sequence) + "\n"; }

uint64_t RecordBytes(uint64_t sequence, std::string_view text) {
  return std::to_string(sequence).size() + text.size() + 3;
}

// Applies one record (a line without its newline) to `entries`; false when unreadable.
bool Apply(std::string_view line, std::map<uint64_t, std::string>& entries, uint64_t& last) {
  if (line.starts_with('-')) {
    const auto sequence = ParseNumber(line.substr(1));
    if (!sequence) {
      return false;
    }
    entries.erase(*sequence);
    last = std::max(last, *sequence);
    return true;
  }
  const size_t space = line.find(' ');
  if (!line.starts_with('+') || space == std::string_view::npos) {
    return false;
  }
  const auto sequence = ParseNumber(line.substr(1, space - 1));
  const std::string_view text = line.substr(space + 1);
  if (!sequence || *sequence == 0 || !nlohmann::json::accept(text)) {
    return false;
  }
  entries.insert_or_assign(*sequence, std::string(text));
  last = std::max(last, *sequence);
  return true;
}

// Applies a segment's records to `entries`; false when some line was unreadable (reported).
Result<bool> ReadSegment(const fs::path& path, std::map<uint64_t, std::string>& entries,
                         uint64_t& last) {
  std::ifstream file(path, std::ios::binary);
  std::string data(std::istreambuf_iterator<char>(file), {});
  if (!file && !file.eof()) {
    return Unavailable("spool segment " + path.string() + ": cannot be read");
  }
  size_t unreadable = 0;
  // A last line without its newline is a write that never returned: not a record.
  for (size_t begin = 0, end; (end = data.find('\n', begin)) != std::string::npos;
       begin = end + 1) {
    if (!Apply(std::string_view(data).substr(begin, end - begin), entries, last)) {
      ++unreadable;
    }
  }
  if (unreadable > 0) {
    log::Error("unreadable spool records never sent; segment kept for inspection",
               {{"path", path.string() + std::string(kCorruptSuffix)}, {"lines", unreadable}});
  }
  return unreadable == 0;
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Unavailable(Errno("spool write"));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return OkStatus();
}

// Creates (or empties) a segment file and makes its name durable; the descriptor appends.
Result<int> CreateSegment(const std::string& dir, const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Unavailable(Errno("spool create " + path));
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || ::fsync(dfd) != 0) {
    Error failed = Unavailable(Errno("spool directory sync " + dir));
    if (dfd >= 0) {
      ::close(dfd);
    }
    ::close(fd);
    return failed;
  }
  ::close(dfd);
  return fd;
}

void Unlink(const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      log::Warn("spool segment not deleted", {{"path", path}, {"error", std::strerror(errno)}});
    }
  }
}

}  // namespace

Result<std::unique_ptr<CommitSpool>> CommitSpool::Open(std::string dir, size_t max_entries,
                                                       size_t segment_bytes,
                                                       std::chrono::milliseconds sync_interval) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return Unavailable("spool directory " + dir + ": " + ec.message());
  }
  // Segment files in the order they were started; corrupt ones only keep their numbers taken.
  std::map<uint64_t, fs::path> segments;
  uint64_t last = 0;
  for (const auto& file : fs::directory_iterator(dir, ec)) {
    const std::string name = file.path().filename().string();
    if (const auto number = SegmentNumberOf(name)) {
      last = std::max(last, *number);
      if (!name.ends_with(kCorruptSuffix)) {
        segments.emplace(*number, file.path());
      }
    }
  }
  if (ec) {
    return Unavailable("spool directory " + dir + ": " + ec.message());
  }
  std::map<uint64_t, std::string> entries;
  std::vector<std::pair<std::string, bool>> read;  // path, readable
  for (const auto& [number, path] : segments) {
    auto readable = ReadSegment(path, entries, last);
    if (!readable.ok()) {
      return std::move(readable).error();
    }
    read.emplace_back(path.string(), *readable);
  }
  std::unique_ptr<CommitSpool> spool(
      new CommitSpool(std::move(dir), max_entries, segment_bytes, sync_interval, last + 1));
  if (Status started = spool->Start(std::move(entries)); !started.ok()) {
    return std::move(started).error();
  }
  // Oldest first, as segments go: a crash part way leaves the newer ones, whose removals
  // cancel only what older ones stored.
  for (const auto& [path, readable] : read) {
    if (readable) {
      Unlink({path});
    } else if (fs::rename(path, path + std::string(kCorruptSuffix), ec); ec) {
      log::Warn("corrupt spool segment not renamed", {{"path", path}, {"error", ec.message()}});
    }
  }
  spool->writer_ = std::thread([raw = spool.get()] {
    NameBackgroundThread("spool");
    raw->WriteLoop();
  });
  return spool;
}

CommitSpool::CommitSpool(std::string dir, size_t max_entries, size_t segment_bytes,
                         std::chrono::milliseconds sync_interval, uint64_t next)
    : dir_(std::move(dir)),
      max_entries_(max_entries),
      segment_bytes_(segment_bytes),
      sync_interval_(sync_interval),
      next_(next) {}

Status CommitSpool::Start(std::map<uint64_t, std::string> entries) {
  MutexLock lock(mu_);
  const uint64_t number = next_;
  std::string records;
  for (const auto& [sequence, text] : entries) {
    AddRecord(records, sequence, text);
  }
  auto fd = CreateSegment(dir_, PathOf(number));
  if (!fd.ok()) {
    return std::move(fd).error();
  }
  fd_ = *fd;
  if (Status written = WriteAll(fd_, records); !written.ok()) {
    return written;
  }
  ++syncs_;
  if (::fdatasync(fd_) != 0) {
    return Unavailable(Errno("spool sync"));
  }
  segments_[number].bytes = records.size();
  for (auto& [sequence, text] : entries) {
    Index(sequence, std::move(text), number);
  }
  return OkStatus();
}

CommitSpool::~CommitSpool() {
  if (writer_.joinable()) {
    {
      MutexLock lock(mu_);
      stopping_ = true;
    }
    queued_.Signal();
    stop_.Signal();
    writer_.join();
  }
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

std::string CommitSpool::PathOf(uint64_t segment) const {
  char name[32];
  std::snprintf(name, sizeof(name), "%020llu", static_cast<unsigned long long>(segment));
  return dir_ + "/" + name + std::string(kSegmentSuffix);
}

void CommitSpool::Index(uint64_t sequence, std::string text, uint64_t segment) {
  ++segments_.at(segment).live;
  live_bytes_ += RecordBytes(sequence, text);
  entries_.insert_or_assign(sequence, Stored{std::move(text), segment});
}

void CommitSpool::Unindex(uint64_t sequence, const Stored& stored) {
  --segments_.at(stored.segment).live;
  live_bytes_ -= RecordBytes(sequence, stored.text);
}

Result<uint64_t> CommitSpool::Append(const nlohmann::json& entry) {
  std::promise<Result<uint64_t>> stored;
  Append(entry, [&stored](Result<uint64_t> sequence) { stored.set_value(std::move(sequence)); });
  return stored.get_future().get();
}

void CommitSpool::Append(const nlohmann::json& entry, AppendDone done) {
  std::string text = entry.dump();
  {
    MutexLock lock(mu_);
    if (entries_.size() + appending_ < max_entries_) {
      ++appending_;
      open_->appends.emplace_back(next_++, std::move(text));
      open_->done.push_back(std::move(done));
      if (open_->appends.size() == 1) {
        queued_.Signal();  // the writer waits for the first; later ones join its batch
      }
      return;
    }
  }
  done(MakeError(ErrorCode::kResourceExhausted,
                 "spool " + dir_ + " full: " + std::to_string(max_entries_) +
                     " entries the authority has not acknowledged"));
}

void CommitSpool::WriteLoop() {
  auto last_write = std::chrono::steady_clock::time_point::min();
  while (true) {
    std::vector<std::string> released;
    std::shared_ptr<Batch> batch;
    Status status;
    {
      MutexLock lock(mu_);
      queued_.Wait(mu_, [this]() REQUIRES(mu_) { return stopping_ || !open_->appends.empty(); });
      // The appends that arrive meanwhile share this write's sync.
      stop_.WaitUntil(mu_, last_write + sync_interval_,
                      [this]() REQUIRES(mu_) { return stopping_; });
      if (open_->appends.empty() && open_->removals.empty()) {
        return;  // stopping, and everything queued is written
      }
      batch = open_;
      status = WriteOpenBatch(released);  // a failure is logged; the entries come back at start
    }
    last_write = std::chrono::steady_clock::now();
    Unlink(released);
    for (size_t i = 0; i < batch->appends.size(); ++i) {
      if (status.ok()) {
        batch->done[i](batch->appends[i].first);
      } else {
        batch->done[i](status.error());
      }
    }
  }
}

std::optional<uint64_t> CommitSpool::SegmentToCompact() const {
  uint64_t ended_bytes = 0;
  for (auto it = segments_.begin(); it != std::prev(segments_.end()); ++it) {
    ended_bytes += it->second.bytes;
  }
  if (ended_bytes <= 2 * (live_bytes_ + segment_bytes_)) {
    return std::nullopt;
  }
  return segments_.begin()->first;
}

Status CommitSpool::WriteOpenBatch(std::vector<std::string>& released) {
  const std::shared_ptr<Batch> batch = std::exchange(open_, std::make_shared<Batch>());
  const uint64_t current = segments_.rbegin()->first;
  const bool start_segment = broken_ || segments_.rbegin()->second.bytes >= segment_bytes_;
  const uint64_t started = std::max(next_, current + 1);
  // Copies of the entries left in the oldest segment, when the ended ones hold too much.
  const std::optional<uint64_t> compacted = SegmentToCompact();
  std::vector<std::pair<uint64_t, std::string>> copies;
  if (compacted) {
    for (const auto& [sequence, stored] : entries_) {
      if (stored.segment == *compacted) {
        copies.emplace_back(sequence, stored.text);
      }
    }
  }
  // Only appends and copies need the disk before the writer returns; removals can wait.
  const bool sync = !batch->appends.empty() || !copies.empty();
  std::string records = std::move(batch->removals);
  Status status;
  int created = -1;
  bool synced = false;
  {
    MutexUnlock unlock(mu_);
    for (const auto& [sequence, text] : batch->appends) {
      AddRecord(records, sequence, text);
    }
    for (const auto& [sequence, text] : copies) {
      AddRecord(records, sequence, text);
    }
    if (start_segment) {
      auto fd = CreateSegment(dir_, PathOf(started));
      if (fd.ok()) {
        created = *fd;
        ::close(fd_);
        fd_ = created;
      } else {
        status = std::move(fd).error();
      }
    }
    if (status.ok()) {
      status = WriteAll(fd_, records);
    }
    if (status.ok() && sync) {
      synced = true;
      if (::fdatasync(fd_) != 0) {
        status = Unavailable(Errno("spool sync"));
      }
    }
  }
  syncs_ += synced ? 1 : 0;
  if (created >= 0) {
    segments_.emplace(started, Segment{});
  }
  const uint64_t segment = segments_.rbegin()->first;
  if (status.ok()) {
    segments_.rbegin()->second.bytes += records.size();
    for (const auto& [sequence, text] : batch->appends) {
      Index(sequence, text, segment);
    }
    // The entries removed meanwhile are no longer in the oldest segment's count.
    for (auto& [sequence, text] : copies) {
      const auto it = entries_.find(sequence);
      if (it != entries_.end() && it->second.segment == *compacted) {
        Unindex(sequence, it->second);
        Index(sequence, std::move(text), segment);
      }
    }
    broken_ = false;
  } else {
    broken_ = true;
    log::Error("spool write failed",
               {{"error", status.error().ToString()}, {"appends", batch->appends.size()}});
  }
  appending_ -= batch->appends.size();
  ReleaseEmptySegments(released);
  return status;
}

void CommitSpool::ReleaseEmptySegments(std::vector<std::string>& released) {
  while (segments_.size() > 1 && segments_.begin()->second.live == 0) {
    released.push_back(PathOf(segments_.begin()->first));
    segments_.erase(segments_.begin());
  }
}

void CommitSpool::Remove(uint64_t sequence) {
  MutexLock lock(mu_);
  const auto it = entries_.find(sequence);
  if (it == entries_.end()) {
    return;
  }
  Unindex(sequence, it->second);
  entries_.erase(it);
  open_->removals += RemovalRecord(sequence);
}

std::vector<CommitSpool::Entry> CommitSpool::Pending() const { return Oldest(SIZE_MAX); }

std::vector<CommitSpool::Entry> CommitSpool::Oldest(size_t limit,
                                                    const std::set<uint64_t>& skip) const {
  std::vector<std::pair<uint64_t, std::string>> texts;
  {
    MutexLock lock(mu_);
    for (auto it = entries_.begin(); it != entries_.end() && texts.size() < limit; ++it) {
      if (!skip.contains(it->first)) {
        texts.emplace_back(it->first, it->second.text);
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
  return entries_.size() + appending_;
}

bool CommitSpool::full() const {
  MutexLock lock(mu_);
  return entries_.size() + appending_ >= max_entries_;
}

uint64_t CommitSpool::syncs() const {
  MutexLock lock(mu_);
  return syncs_;
}

}  // namespace agentbudget::meter
