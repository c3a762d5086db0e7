#include "operator/authority/ledger_store.h"

#include "operator/authority/ledger_compaction.h"

namespace agentbudget::authority {

Status InMemoryLedgerStore::Append(const std::vector<LedgerEntry>& batch) {
  MutexLock lock(mu_);
  if (failures_left_ > 0) {
    --failures_left_;
    return Unavailable("ledger store: injected append failure");
  }
  entries_.insert(entries_.end(), batch.begin(), batch.end());
  ++appends_;
  return OkStatus();
}

Result<std::vector<LedgerEntry>> InMemoryLedgerStore::Load() {
  MutexLock lock(mu_);
  return entries_;
}

Result<size_t> InMemoryLedgerStore::Compact(const CompactOptions& options) {
  MutexLock lock(mu_);
  std::vector<LedgerEntry> settled;
  std::vector<LedgerEntry> recent;
  for (LedgerEntry& entry : entries_) {
    (entry.at < options.before ? settled : recent).push_back(std::move(entry));
  }
  Folder folder(options.keep_digests_after, options.retain_from);
  for (const LedgerEntry& entry : settled) {
    folder.Add(entry);
  }
  std::vector<LedgerEntry> compacted = folder.Take();
  const size_t folded_away = settled.size() - compacted.size();
  compacted.insert(compacted.end(), std::make_move_iterator(recent.begin()),
                   std::make_move_iterator(recent.end()));
  entries_ = std::move(compacted);
  return folded_away;
}

StoreUsage InMemoryLedgerStore::Usage() const {
  MutexLock lock(mu_);
  StoreUsage usage;
  usage.objects = static_cast<int64_t>(entries_.size());
  for (const LedgerEntry& entry : entries_) {
    usage.bytes += static_cast<int64_t>(entry.ToJson().dump().size());
  }
  return usage;
}

void InMemoryLedgerStore::FailNextAppends(int count) {
  MutexLock lock(mu_);
  failures_left_ = count;
}

int InMemoryLedgerStore::appends() const {
  MutexLock lock(mu_);
  return appends_;
}

}  // namespace agentbudget::authority
