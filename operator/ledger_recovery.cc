#include "operator/ledger_recovery.h"

#include "common/log.h"

namespace agentbudget::op {

Status RecoverLedger(budgets::BudgetController& budgets, authority::LedgerStore& store,
                     authority::Ledger& ledger) {
  budgets.ApplySpecs();
  auto entries = store.Load();
  if (!entries.ok()) {
    log::Warn("cannot read the ledger; retrying", {{"error", entries.error().ToString()}});
    return std::move(entries).error();
  }
  ledger.Recover(*entries);
  log::Info("ledger recovered", {{"entries", entries->size()}});
  return OkStatus();
}

}  // namespace agentbudget::op
