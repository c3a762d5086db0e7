#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "core/focus.h"
#include "operator/authority/ledger_entry.h"

namespace agentbudget::authority {

// The SKU rows (core::FocusRows) of the ledger entries committed in [from, to), priced by
// `rates`, in ledger order. A replayed entry stored twice, or a raw copy of a folded key,
// counts once (FirstCopies); a folded total counts as the calls it holds, at the price tier
// of its mean call; a report (LedgerEntry::IsReport) is no charge. Pure.
std::vector<core::FocusRow> FocusExportRows(const std::vector<LedgerEntry>& entries,
                                            core::SysSeconds from, core::SysSeconds to,
                                            const core::RateCard& rates);

// FOCUS 1.2 CSV (core::FocusCsv) of FocusExportRows. Pure.
std::string FocusExport(const std::vector<LedgerEntry>& entries, core::SysSeconds from,
                        core::SysSeconds to, const core::RateCard& rates,
                        const core::FocusAccount& account);

// Parses the `from` and `to` query parameters ("from=2026-11-01&to=2026-12-01", RFC 3339
// times or dates; `to` defaults to far in the future, `from` to the epoch). Fails with
// kInvalidArgument naming the parameter.
Result<std::pair<core::SysSeconds, core::SysSeconds>> ParseFocusRange(const std::string& query);

}  // namespace agentbudget::authority
