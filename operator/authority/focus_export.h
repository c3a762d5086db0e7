#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "core/focus.h"
#include "operator/authority/ledger_entry.h"

namespace agentbudget::authority {

// FOCUS 1.2 CSV of the ledger entries committed in [from, to), in ledger order, one row
// per entry (a replayed entry stored twice, or a raw copy of a folded key, is exported once
// (FirstCopies); a folded total is one row for its run, model and 15 minutes; a report, LedgerEntry::IsReport, is no row). Pure.
std::string FocusExport(const std::vector<LedgerEntry>& entries, core::SysSeconds from,
                        core::SysSeconds to, const core::FocusAccount& account);

// Parses the `from` and `to` query parameters ("from=2026-11-01&to=2026-12-01", RFC 3339
// times or dates; `to` defaults to far in the future, `from` to the epoch). Fails with
// kInvalidArgument naming the parameter.
Result<std::pair<core::SysSeconds, core::SysSeconds>> ParseFocusRange(const std::string& query);

}  // namespace agentbudget::authority
