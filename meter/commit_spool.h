#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/mutex.h"
#include "common/result.h"

namespace agentbudget::meter {

// A directory of commits not yet acknowledged by the authority, one JSON file per entry
// named by a zero-padded sequence number, so that entries survive restarts and are resent
// in order. Each Append is durable on return (temporary file, fsync, rename, fsync of the
// directory). Concurrent appends write side by side and share directory fsyncs, so the
// order of two appends neither of which returned before the other began is the order of
// their numbers, not necessarily that of their files appearing. Thread-safe.
class CommitSpool {
 public:
  // Creates `dir` if needed and finds the entries left by a previous process; leftover
  // temporary files of interrupted appends are removed. Fails with kUnavailable when the
  // directory cannot be created or read.
  static Result<std::unique_ptr<CommitSpool>> Open(std::string dir);

  // Stores `entry` durably and returns its sequence number (greater than every earlier one).
  // Fails with kUnavailable on an I/O error; nothing is stored then.
  Result<uint64_t> Append(const nlohmann::json& entry) EXCLUDES(mu_);

  // Deletes an acknowledged entry. Removing an absent entry succeeds.
  Status Remove(uint64_t sequence);

  // The stored entries in sequence order. Unreadable files are reported as errors in the
  // log and skipped (left in place for inspection).
  std::vector<std::pair<uint64_t, nlohmann::json>> Pending() const;

  const std::string& dir() const { return dir_; }

 private:
  CommitSpool(std::string dir, uint64_t next) : dir_(std::move(dir)), next_(next) {}
  std::string PathOf(uint64_t sequence) const;
  // Makes every rename in the directory done before the call durable: one fsync of the
  // directory at a time, each covering all callers that arrived before it began.
  void SyncDirectory() EXCLUDES(sync_mu_);

  const std::string dir_;
  mutable Mutex mu_;
  uint64_t next_ GUARDED_BY(mu_);
  Mutex sync_mu_;
  CondVar synced_;
  uint64_t sync_requested_ GUARDED_BY(sync_mu_) = 0;   // tickets handed out
  uint64_t sync_done_through_ GUARDED_BY(sync_mu_) = 0;  // tickets a finished sync covered
  bool syncing_ GUARDED_BY(sync_mu_) = false;
};

}  // namespace agentbudget::meter
