#include "operator/authority/group_committer.h"

#include "common/log.h"

namespace agentbudget::authority {

GroupCommitter::GroupCommitter(LedgerStore& store, Options options)
    : store_(store), options_(options), writer_([this] { Run(); }) {}

GroupCommitter::~GroupCommitter() {
  {
    MutexLock lock(mu_);
    draining_ = true;
  }
  wake_.SignalAll();
  writer_.join();
}

void GroupCommitter::Submit(LedgerEntry entry, std::function<void()> durable) {
  bool wake = false;
  {
    MutexLock lock(mu_);
    // The writer sleeps without a deadline while the queue is empty: the first entry
    // starts its timer, a full batch ends it early.
    if (queue_.empty()) {
      oldest_ = std::chrono::steady_clock::now();
      wake = true;
    }
    queue_.push_back(std::move(entry));
    durable_.push_back(std::move(durable));
    wake = wake || queue_.size() >= options_.max_batch;
  }
  if (wake) {
    wake_.SignalAll();
  }
}

void GroupCommitter::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.SignalAll();
}

size_t GroupCommitter::pending() const {
  MutexLock lock(mu_);
  return queue_.size() + in_flight_;
}

void GroupCommitter::TakeBatchLocked(std::vector<LedgerEntry>& entries,
                                      std::vector<std::function<void()>>& callbacks) {
  if (queue_.size() <= options_.max_batch) {
    entries.swap(queue_);
    callbacks.swap(durable_);
    return;
  }
  const auto take = static_cast<long>(options_.max_batch);
  entries.assign(std::make_move_iterator(queue_.begin()),
                 std::make_move_iterator(queue_.begin() + take));
  callbacks.assign(std::make_move_iterator(durable_.begin()),
                   std::make_move_iterator(durable_.begin() + take));
  queue_.erase(queue_.begin(), queue_.begin() + take);
  durable_.erase(durable_.begin(), durable_.begin() + take);
}

void GroupCommitter::Run() {
  // One batch at a time, emptied without the lock after it is written; their capacity is
  // kept and goes back to the queue with the next swap.
  std::vector<LedgerEntry> entries;
  std::vector<std::function<void()>> callbacks;
  MutexLock lock(mu_);
  while (true) {
    // Sleep until a batch is due: full, old enough, or draining at shutdown.
    while (!stopping_) {
      if (!queue_.empty() && (draining_ || queue_.size() >= options_.max_batch ||
                              std::chrono::steady_clock::now() >= oldest_ + options_.interval)) {
        break;
      }
      if (queue_.empty() && draining_) {
        return;
      }
      if (queue_.empty()) {
        wake_.Wait(mu_);
      } else {
        wake_.WaitUntil(mu_, oldest_ + options_.interval);
      }
    }
    if (stopping_) {
      return;
    }
    TakeBatchLocked(entries, callbacks);
    in_flight_ = entries.size();

    Status written = OkStatus();
    {
      // The store is written without the lock, so that Submit() never waits for it, nor
      // for the batch's destruction (Submit() runs under the ledger's lock).
      MutexUnlock unlocked(mu_);
      written = store_.Append(entries);
      if (written.ok()) {
        in_flight_ = 0;
        for (auto& durable : callbacks) {
          durable();
        }
        entries.clear();
        callbacks.clear();
      }
    }

    if (!written.ok()) {
      in_flight_ = 0;
      log::Warn("ledger append failed; retrying", {{"error", written.error().ToString()},
                                                    {"entries", entries.size()}});
      // Put the batch back in front, unchanged, and retry after one interval.
      queue_.insert(queue_.begin(), std::make_move_iterator(entries.begin()),
                    std::make_move_iterator(entries.end()));
      durable_.insert(durable_.begin(), std::make_move_iterator(callbacks.begin()),
                      std::make_move_iterator(callbacks.end()));
      entries.clear();
      callbacks.clear();
      oldest_ = std::chrono::steady_clock::now();
      if (!draining_) {
        continue;
      }
      wake_.WaitFor(mu_, options_.interval, [this]() REQUIRES(mu_) { return stopping_; });
    }
  }
}

}  // namespace agentbudget::authority
