#pragma once

#include "common/clock.h"
#include "common/http_server.h"
#include "core/rate_card.h"
#include "core/showback.h"
#include "operator/authority/ledger.h"
#include "operator/authority/ledger_store.h"
#include "operator/authority/spend_access.h"

namespace agentbudget::op {

// The showback report (docs/authority.md, "Showback"): core::Showback of the current
// calendar month (UTC), from the durable ledger and the authority's budgets.

// What a report is made of. Every reference must outlive the route.
struct ShowbackSources {
  authority::LedgerStore& store;    // spend, runs and their outcomes
  const authority::Ledger& ledger;  // budgets and reservation decisions (current on the leader)
  authority::SpendAccess& access;
  const core::RateCard& rates;
  const Clock& clock;
};

// The report of the month holding `now` for `entries` (in ledger order): spend summed from
// their FOCUS rows (authority::FocusExportRows), each workload's run figures from an
// authority::WorkloadSpendTally of them, and, when `budgets` is set, each budget with its
// spend accrued from the entries that charged it, and the degraded share of `stats`. Pure.
core::Showback BuildShowback(const std::vector<authority::LedgerEntry>& entries,
                             const core::RateCard& rates, core::SysSeconds now,
                             const std::vector<authority::BudgetSnapshot>* budgets,
                             const authority::LedgerStats* stats);

// GET /v1/showback[?namespace=NS][&format=json], authorized as GET /v1/focus is
// (op::ReadVisibleSpend: 401, 403, 400, 503 alike): the self-contained HTML page
// (core::ShowbackHtml), or with format=json the same figures as JSON (core::ShowbackJson).
// A reader of every namespace also sees the budgets and the degraded share, which span
// namespaces; a reader of some namespaces sees their spend and workloads only.
http::Response ServeShowback(const http::Request& request, const ShowbackSources& sources);

// Adds GET /v1/showback (ServeShowback) to `router`.
void AddShowbackRoute(http::Router& router, const ShowbackSources& sources);

}  // namespace agentbudget::op
