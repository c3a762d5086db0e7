#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/mutex.h"
#include "common/result.h"

namespace agentbudget::meter {

// A directory of commits not yet acknowledged by the authority, one JSON file per entry
// named by a zero-padded sequence number, so that entries survive restarts and are resent
// oldest first. Each Append is durable on return (temporary file, fsync, rename, fsync of
// the directory). Concurrent appends write side by side and share directory fsyncs, so the
// order of two appends neither of which returned before the other began is the order of
// their numbers, not necessarily that of their files appearing.
//
// The directory is read once, by Open; after that the spool answers from an index in
// memory (each entry's text, as stored), kept by Append and Remove. Bound: it holds at most
// `max_entries` entries (the default, 10,000, takes about 40 MiB of a disk counting a 4 KiB
// block per file and about 4 MB of memory at the meter's ~300-byte entries); an Append past
// it fails with kResourceExhausted and stores nothing. Entries a previous process left are
// all loaded, even past the bound (none is dropped); appends wait until they are below it.
// Thread-safe.
class CommitSpool {
 public:
  static constexpr size_t kDefaultMaxEntries = 10'000;

  using Entry = std::pair<uint64_t, nlohmann::json>;  // sequence number, entry

  // Creates `dir` if needed and loads the entries left by a previous process; leftover
  // temporary files of interrupted appends are removed, unreadable entries are reported as
  // errors in the log and left in place for inspection (never sent). Fails with
  // kUnavailable when the directory cannot be created or read.
  // REQUIRES: max_entries > 0.
  static Result<std::unique_ptr<CommitSpool>> Open(std::string dir,
                                                   size_t max_entries = kDefaultMaxEntries);

  // Stores `entry` durably and returns its sequence number (greater than every earlier one).
  // Fails with kResourceExhausted when the spool is full, kUnavailable on an I/O error;
  // nothing is stored then.
  Result<uint64_t> Append(const nlohmann::json& entry) EXCLUDES(mu_);

  // Deletes an acknowledged entry. Removing an absent entry succeeds. On an I/O error
  // (kUnavailable) the entry stays, to be sent again.
  Status Remove(uint64_t sequence) EXCLUDES(mu_);

  // Every stored entry, in sequence order.
  std::vector<Entry> Pending() const EXCLUDES(mu_);
  // Up to `limit` of the oldest stored entries not in `skip`, in sequence order.
  std::vector<Entry> Oldest(size_t limit, const std::set<uint64_t>& skip = {}) const
      EXCLUDES(mu_);

  // Entries stored (appends under way not counted).
  size_t size() const EXCLUDES(mu_);
  // True when an Append would fail for want of room.
  bool full() const EXCLUDES(mu_);
  size_t max_entries() const { return max_entries_; }
  const std::string& dir() const { return dir_; }

 private:
  CommitSpool(std::string dir, size_t max_entries, std::map<uint64_t, std::string> entries,
              uint64_t next);
  std::string PathOf(uint64_t sequence) const;
  // Makes every rename in the directory done before the call durable: one fsync of the
  // directory at a time, each covering all callers that arrived before it began.
  void SyncDirectory() EXCLUDES(sync_mu_);

  const std::string dir_;
  const size_t max_entries_;
  mutable Mutex mu_;
  // sequence -> the entry's JSON text, for every entry stored.
  std::map<uint64_t, std::string> entries_ GUARDED_BY(mu_);
  size_t appending_ GUARDED_BY(mu_) = 0;  // appends holding a place below the bound
  uint64_t next_ GUARDED_BY(mu_);
  Mutex sync_mu_;
  CondVar synced_;
  uint64_t sync_requested_ GUARDED_BY(sync_mu_) = 0;   // tickets handed out
  uint64_t sync_done_through_ GUARDED_BY(sync_mu_) = 0;  // tickets a finished sync covered
  bool syncing_ GUARDED_BY(sync_mu_) = false;
};

}  // namespace agentbudget::meter
