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
    queue_.push_back({std::move(entry), std::move(durable)});
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

void GroupCommitter::Run() {
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
    const size_t take = std::min(queue_.size(), options_.max_batch);
    // Entries and callbacks apart, moved rather than copied: the store reads the entries.
    std::vector<LedgerEntry> entries;
    std::vector<std::function<void()>> callbacks;
    entries.reserve(take);
    callbacks.reserve(take);
    for (size_t i = 0; i < take; ++i) {
      entries.push_back(std::move(queue_[i].entry));
      callbacks.push_back(std::move(queue_[i].durable));
    }
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<long>(take));
    in_flight_ = take;

    Status written = OkStatus();
    {
      // The store is written without the lock, so that Submit() never waits for it.
      MutexUnlock unlocked(mu_);
      written = store_.Append(entries);
      if (written.ok()) {
        for (auto& durable : callbacks) {
          durable();
        }
      }
    }

    in_flight_ = 0;
    if (!written.ok()) {
      log::Warn("ledger append failed; retrying", {{"error", written.error().ToString()},
                                                    {"entries", take}});
      // Put the batch back in front, unchanged, and retry after one interval.
      std::vector<Pending> batch;
      batch.reserve(take);
      for (size_t i = 0; i < take; ++i) {
        batch.push_back({std::move(entries[i]), std::move(callbacks[i])});
      }
      queue_.insert(queue_.begin(), std::make_move_iterator(batch.begin()),
                    std::make_move_iterator(batch.end()));
      oldest_ = std::chrono::steady_clock::now();
      if (!draining_) {
        continue;
      }
      wake_.WaitFor(mu_, options_.interval, [this]() REQUIRES(mu_) { return stopping_; });
    }
  }
}

}  // namespace agentbudget::authority
