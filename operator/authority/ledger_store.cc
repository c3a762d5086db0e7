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

Result<size_t> InMemoryLedgerStore::Compact(core::SysSeconds before) {
  MutexLock lock(mu_);
  std::vector<LedgerEntry> settled;
  std::vector<LedgerEntry> recent;
  for (LedgerEntry& entry : entries_) {
    (entry.at < before ? settled : recent).push_back(std::move(entry));
  }
  std::vector<LedgerEntry> compacted = FoldEntries(settled);
  const size_t folded_away = settled.size() - compacted.size();
  compacted.insert(compacted.end(), std::make_move_iterator(recent.begin()),
                   std::make_move_iterator(recent.end()));
  entries_ = std::move(compacted);
  return folded_away;
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
