#include "operator/authority/focus_export.h"

#include "core/time_format.h"

namespace agentbudget::authority {

std::string FocusExport(const std::vector<LedgerEntry>& entries, core::SysSeconds from,
                        core::SysSeconds to, const core::FocusAccount& account) {
  std::vector<core::FocusCharge> charges;
  FirstCopies first_copies;
  for (const LedgerEntry& entry : entries) {
    if (entry.at < from || entry.at >= to || entry.IsReport()) {
      continue;
    }
    const bool event = entry.kind == LedgerEntry::Kind::kEvent;
    if (!first_copies.Counts(entry)) {
      continue;
    }
    core::FocusCharge charge;
    charge.id = entry.id;
    charge.at = entry.at;
    charge.cost_micros = entry.cost_micros;
    charge.tokens = entry.tokens;
    charge.model = entry.model;
    charge.event = event;
    charge.run = entry.run;
    charge.namespace_name = entry.namespace_name;
    charge.attribution = entry.attribution;
    charges.push_back(std::move(charge));
  }
  return core::FocusCsv(charges, account);
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
