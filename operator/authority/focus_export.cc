#include "operator/authority/focus_export.h"

#include <algorithm>

#include "core/time_format.h"

namespace agentbudget::authority {

std::vector<core::FocusRow> FocusExportRows(const std::vector<LedgerEntry>& entries,
                                            core::SysSeconds from, core::SysSeconds to,
                                            const core::RateCard& rates) {
  std::vector<core::FocusCharge> charges;
  FirstCopies first_copies;
  for (const LedgerEntry& entry : entries) {
    if (entry.at < from || entry.at >= to || entry.IsReport()) {
      continue;
    }
    if (!first_copies.Counts(entry)) {
      continue;
    }
    core::FocusCharge charge;
    charge.at = entry.at;
    charge.cost_micros = entry.cost_micros;
    charge.tokens = entry.tokens;
    charge.usage.input = entry.token_types.input;
    charge.usage.cache_read = entry.token_types.cache_read;
    charge.usage.cache_write_5m = entry.token_types.cache_write_5m;
    charge.usage.cache_write_1h = entry.token_types.cache_write_1h;
    charge.usage.output = entry.token_types.output;
    charge.calls = std::max<int64_t>(entry.folded, 1);
    charge.model = entry.model;
    charge.event = entry.kind == LedgerEntry::Kind::kEvent;
    charge.run = entry.run;
    charge.namespace_name = entry.namespace_name;
    charge.attribution = entry.attribution;
    charges.push_back(std::move(charge));
  }
  return core::FocusRows(charges, rates);
}

std::string FocusExport(const std::vector<LedgerEntry>& entries, core::SysSeconds from,
                        core::SysSeconds to, const core::RateCard& rates,
                        const core::FocusAccount& account) {
  return core::FocusCsv(FocusExportRows(entries, from, to, rates), account);
}

Result<std::pair<core::SysSeconds, core::SysSeconds>> ParseFocusRange(const std::string& query) {
  core::SysSeconds from{};
  core::SysSeconds to = core::SysSeconds::max();
  size_t start = 0;
  while (start <= query.size() && !query.empty()) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) {
      end = query.size();
    }
    const std::string pair = query.substr(start, end - start);
    const size_t equals = pair.find('=');
    const std::string name = pair.substr(0, equals);
    const std::string value = equals == std::string::npos ? "" : pair.substr(equals + 1);
    if (name == "from" || name == "to") {
      auto parsed = core::ParseRfc3339(value);
      if (!parsed.ok()) {
        return InvalidArgument(name + ": " + parsed.error().message);
      }
      (name == "from" ? from : to) = *parsed;
    }
    start = end + 1;
  }
  if (to <= from) {
    return InvalidArgument("to must be after from");
  }
  return std::pair{from, to};
}

}  // namespace agentbudget::authority
