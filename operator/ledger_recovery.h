#pragma once

#include "common/result.h"
#include "operator/authority/ledger.h"
#include "operator/authority/ledger_store.h"
#include "operator/budgets/budget_controller.h"

namespace agentbudget::op {

// The leader's first step (a kube::Manager leader setup): balances come from the budgets
// and the durable ledger, so it puts every cached AgentBudget's spec into `ledger`, then
// reads `store` back into it (Ledger::Recover). Only a process that already holds the
// lease may read the ledger: the previous leader may have appended until then. Fails with
// the store's error (the manager retries it); the authority serves only once it succeeded.
// Every reference must outlive the call.
Status RecoverLedger(budgets::BudgetController& budgets, authority::LedgerStore& store,
                     authority::Ledger& ledger);

}  // namespace agentbudget::op
