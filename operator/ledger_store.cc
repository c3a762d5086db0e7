#include "operator/ledger_store.h"

namespace agentbudget::operator_ {

Status InMemoryLedgerStore::Append(const std::vector<LedgerEntry>& batch) {
  std::lock_guard lock(mu_);
  if (failures_left_ > 0) {
    --failures_left_;
    return Unavailable("ledger store: injected append failure");
  }
  entries_.insert(entries_.end(), batch.begin(), batch.end());
  ++appends_;
  return OkStatus();
}

Result<std::vector<LedgerEntry>> InMemoryLedgerStore::Load() {
  std::lock_guard lock(mu_);
  return entries_;
}

void InMemoryLedgerStore::FailNextAppends(int count) {
  std::lock_guard lock(mu_);
  failures_left_ = count;
}

int InMemoryLedgerStore::appends() const {
  std::lock_guard lock(mu_);
  return appends_;
}

}  // namespace agentbudget::operator_
