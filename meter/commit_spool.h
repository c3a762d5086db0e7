#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/mutex.h"
#include "common/result.h"

namespace agentbudget::meter {

// Commits not yet acknowledged by the authority, kept in a directory so that they survive
// restarts and are resent oldest first.
//
// Storage: an append-only log of segment files in the directory, `<20-digit number>.log`,
// numbered in increasing order as they are started. One record a line: `+<sequence> <JSON
// text>` stores an entry, `-<sequence>` removes it. One writer thread of the spool's takes
// every record queued so far, writes them with one write() and one fdatasync(), answers
// the appends among them, and goes on with what queued meanwhile, at most one write every
// kSyncInterval. So the appends that arrive during one write, or within kSyncInterval of
// the last, cost one write and one sync between them, however many and from whatever
// threads, where a file per entry cost each an open, write, fsync, rename and unlink and a
// directory fsync; an append waits at most kSyncInterval plus one write for its answer.
// Removals are written without a sync of their own, with the next appends' write (or when
// the spool is destroyed): a removal lost to a crash only brings an acknowledged entry back
// at the next start, to be resent, and the authority answers a resent commit by its
// idempotency key, counting it once. Removals not yet written take ~22 bytes each, one per
// entry stored at the last write at most (max_entries, or what Open loaded).
//
// A segment ends once it passes `segment_bytes`; the next write starts another (and syncs
// the directory, once per segment). A segment is deleted once it and every older one hold
// no entry: removals in a segment may cancel entries of older ones, so segments go oldest
// first. So that an entry never acknowledged does not keep every later segment, a writer
// that finds the ended segments larger than 2 × (the stored entries' record bytes +
// segment_bytes) copies the entries left in the oldest into the current one (same sequence
// numbers, synced with the write), which lets it go. Disk bound: the segment files number
// at most 4 + 2 × (the stored entries' record bytes) / segment_bytes, each at most
// segment_bytes plus one write; a write copies at most one segment forward, so after many
// removals at once the files come back within the bound over the next writes.
//
// The directory is read once, by Open, which writes what is left into a new segment and
// deletes the old ones: a segment's last line may be a partial record (a write that never
// returned), after which nothing can be appended. After that the spool answers from an
// index in memory (each entry's text), kept by Append and Remove. Bound: it holds at most
// `max_entries` entries (the default, 10,000, takes about 3.3 MB of records at the meter's
// ~300-byte entries, so about 12 MiB of disk at most at the default 1 MiB segments, and
// about 4 MB of memory); an Append past it fails with kResourceExhausted and stores nothing.
// Entries a previous process left are all loaded, even past the bound (none is dropped);
// appends wait until they are below it. Thread-safe.
class CommitSpool {
 public:
  static constexpr size_t kDefaultMaxEntries = 10'000;
  static constexpr size_t kDefaultSegmentBytes = 1 << 20;
  // The least time between the starts of two writes: a sync costs the disk a flush (on a
  // virtual machine an exit to the hypervisor, on network block storage a round trip and
  // one of the volume's IOPS), the process a context switch and the machine an interrupt,
  // whatever it carries. At 20 ms a meter syncs at most 50 times a second at any call
  // rate, and a commit is durable well before the authority's group commit (200 ms by
  // default) could acknowledge it.
  static constexpr std::chrono::milliseconds kSyncInterval{20};

  using Entry = std::pair<uint64_t, nlohmann::json>;  // sequence number, entry

  // Creates `dir` if needed, loads the entries left by a previous process, writes them into
  // a new segment for this process and deletes the old segments. A segment's last line
  // without its newline (an append that never returned) is ignored. A segment with
  // unreadable lines is reported as an error in the log and renamed `<name>.log.corrupt`
  // for inspection; its readable records count, its unreadable ones are never sent. Fails
  // with kUnavailable when the directory cannot be created or read, or the new segment
  // cannot be written.
  // `sync_interval` is the least time between the starts of two writes (kSyncInterval).
  // REQUIRES: max_entries > 0, segment_bytes > 0.
  static Result<std::unique_ptr<CommitSpool>> Open(
      std::string dir, size_t max_entries = kDefaultMaxEntries,
      size_t segment_bytes = kDefaultSegmentBytes,
      std::chrono::milliseconds sync_interval = kSyncInterval);
  // Writes what is queued, then stops the writer.
  // REQUIRES: no call under way.
  ~CommitSpool();

  using AppendDone = std::function<void(Result<uint64_t>)>;

  // Queues `entry` for the writer and returns; `done` gets its sequence number (greater
  // than every earlier one) once it is durable, exactly once, on the writer's thread, and
  // must not block for long (the next write waits for it). Fails with kResourceExhausted
  // when the spool is full (inline, at once), kUnavailable on an I/O error (the whole write
  // it shared fails); the entry is not stored then, though a record the disk took before
  // the error may come back at the next start and be resent.
  void Append(const nlohmann::json& entry, AppendDone done) EXCLUDES(mu_);
  // The same, waiting for it to be durable.
  Result<uint64_t> Append(const nlohmann::json& entry) EXCLUDES(mu_);

  // Deletes an acknowledged entry from the spool at once; its removal reaches the disk with
  // the next write, unsynced (a failed write is logged: the entry, gone from this process,
  // comes back at the next start, to be resent). Removing an absent entry does nothing.
  void Remove(uint64_t sequence) EXCLUDES(mu_);

  // Every stored entry, in sequence order.
  std::vector<Entry> Pending() const EXCLUDES(mu_);
  // Up to `limit` of the oldest stored entries not in `skip`, in sequence order.
  std::vector<Entry> Oldest(size_t limit, const std::set<uint64_t>& skip = {}) const
      EXCLUDES(mu_);

  // Entries stored or queued to be (so a spool of size 0 has nothing left to send).
  size_t size() const EXCLUDES(mu_);
  // True when an Append would fail for want of room.
  bool full() const EXCLUDES(mu_);
  // fdatasync() calls made since Open, Open's own included: what concurrent appends share.
  uint64_t syncs() const EXCLUDES(mu_);
  size_t max_entries() const { return max_entries_; }
  const std::string& dir() const { return dir_; }

 private:
  struct Stored {
    std::string text;  // the entry's JSON text
    uint64_t segment;  // the number of the segment holding its record
  };
  struct Segment {
    uint64_t bytes = 0;  // written to it
    size_t live = 0;     // stored entries whose record it holds
  };
  // Records queued for one write: appends are answered once it is done, removals are not.
  struct Batch {
    std::vector<std::pair<uint64_t, std::string>> appends;  // sequence, JSON text
    std::vector<AppendDone> done;                          // one per append
    std::string removals;                                  // `-<sequence>` records
  };

  CommitSpool(std::string dir, size_t max_entries, size_t segment_bytes,
              std::chrono::milliseconds sync_interval, uint64_t next);
  // Writes `entries` into this process's first segment, as its only content.
  Status Start(std::map<uint64_t, std::string> entries) EXCLUDES(mu_);
  // The writer thread: once appends are queued (and sync_interval_ after its last write),
  // writes the open batch and answers its appends outside the lock; until the spool is
  // destroyed, when it writes what is queued first.
  void WriteLoop() EXCLUDES(mu_);
  // Writes the open batch, with mu_ released during the I/O; adds to `released` the segment
  // files that may now be deleted.
  Status WriteOpenBatch(std::vector<std::string>& released) REQUIRES(mu_);
  // Takes out of segments_ the oldest segments that hold no entry (never the current one)
  // and adds their paths to `released`.
  void ReleaseEmptySegments(std::vector<std::string>& released) REQUIRES(mu_);
  // The ended segment to copy forward, if the ended segments pass the disk bound's share.
  std::optional<uint64_t> SegmentToCompact() const REQUIRES(mu_);
  // Index stores an entry in entries_ and counts it in its segment; Unindex takes it out of
  // the counts only, leaving entries_ to the caller (which may hold an iterator into it).
  void Index(uint64_t sequence, std::string text, uint64_t segment) REQUIRES(mu_);
  void Unindex(uint64_t sequence, const Stored& stored) REQUIRES(mu_);
  std::string PathOf(uint64_t segment) const;

  const std::string dir_;
  const size_t max_entries_;
  const size_t segment_bytes_;
  const std::chrono::milliseconds sync_interval_;
  mutable Mutex mu_;
  // sequence -> the entry's text and segment, for every entry stored.
  std::map<uint64_t, Stored> entries_ GUARDED_BY(mu_);
  // number -> accounting, for every segment file of this process; the last is the current.
  std::map<uint64_t, Segment> segments_ GUARDED_BY(mu_);
  uint64_t live_bytes_ GUARDED_BY(mu_) = 0;  // the records of every stored entry
  size_t appending_ GUARDED_BY(mu_) = 0;     // appends holding a place below the bound
  uint64_t next_ GUARDED_BY(mu_);
  uint64_t syncs_ GUARDED_BY(mu_) = 0;
  std::shared_ptr<Batch> open_ GUARDED_BY(mu_) = std::make_shared<Batch>();
  bool stopping_ GUARDED_BY(mu_) = false;
  CondVar queued_;  // an append was queued to an empty batch, or the spool stops
  CondVar stop_;    // the spool stops
  // The current segment may end with a partial record (a write or sync failed): the next
  // writer starts a new one rather than append after it.
  bool broken_ GUARDED_BY(mu_) = false;
  // The current segment's descriptor (O_APPEND): used by Open, then by the writer thread
  // only, with mu_ released, so it is not guarded by it.
  int fd_ = -1;
  std::thread writer_;
};

}  // namespace agentbudget::meter
