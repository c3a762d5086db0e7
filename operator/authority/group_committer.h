#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "operator/authority/ledger_store.h"

namespace agentbudget::authority {

// Batches ledger entries into one LedgerStore::Append per interval (group commit), so
// thousands of commits a second cost a few writes to the Kubernetes API. Each entry's
// `durable` callback runs once, on the committer's thread, after the batch holding it was
// appended; a failed append is retried every interval until it succeeds, so no callback
// ever reports a loss and none runs early. Thread-safe.
class GroupCommitter {
 public:
  struct Options {
    // A batch is written at most this long after its first entry arrived.
    std::chrono::milliseconds interval{200};
    // A batch is written as soon as it holds this many entries (keeps each stored object
    // well below etcd's request size limit).
    size_t max_batch = 1000;
  };

  // Starts the writer thread. `store` must outlive this object.
  GroupCommitter(LedgerStore& store, Options options);
  // Writes what is pending (retrying until the store accepts it or Stop() was called),
  // then joins the writer thread.
  ~GroupCommitter();
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  // Queues `entry`; `durable` is called once it is in the store.
  void Submit(LedgerEntry entry, std::function<void()> durable) EXCLUDES(mu_);

  // Stops the writer without waiting for pending entries to become durable (as a crash
  // would); their callbacks never run. Used at shutdown after losing leadership.
  void Stop() EXCLUDES(mu_);

  // Entries submitted but not yet durable.
  size_t pending() const EXCLUDES(mu_);

 private:
  void Run() EXCLUDES(mu_);
  // Moves the next batch (at most max_batch entries, oldest first) from the queue into the
  // empty `entries` and `callbacks`: by swapping the vectors when the queue holds no more,
  // so that handing over a batch costs no copy and no allocation under the lock.
  void TakeBatchLocked(std::vector<LedgerEntry>& entries,
                       std::vector<std::function<void()>>& callbacks) REQUIRES(mu_);

  LedgerStore& store_;
  const Options options_;
  mutable Mutex mu_;
  CondVar wake_;
  // The entries waiting for the next batch and, at the same index, their callbacks.
  std::vector<LedgerEntry> queue_ GUARDED_BY(mu_);
  std::vector<std::function<void()>> durable_ GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point oldest_ GUARDED_BY(mu_);
  // The batch being written; atomic (synchronises itself) so that it drops to 0 before the
  // batch's callbacks run, without the lock.
  std::atomic<size_t> in_flight_{0};
  bool stopping_ GUARDED_BY(mu_) = false;
  bool draining_ GUARDED_BY(mu_) = false;
  std::thread writer_;
};

}  // namespace agentbudget::authority
