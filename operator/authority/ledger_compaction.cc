#include "operator/authority/ledger_compaction.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "core/money.h"

namespace agentbudget::authority {
namespace {

// Everything that must be equal for two entries to fold into one, as one string.
std::string GroupKey(const LedgerEntry& entry, core::SysSeconds bucket) {
  nlohmann::json key = entry.ToJson();
  for (const char* varying : {"id", "key", "h", "cost", "tok", "at", "n"}) {
    key.erase(varying);
  }
  key["bucket"] = bucket.time_since_epoch().count();
  return key.dump();
}

}  // namespace

std::vector<LedgerEntry> FoldEntries(const std::vector<LedgerEntry>& entries) {
  std::vector<LedgerEntry> folded;
  std::map<std::string, size_t> groups;  // group key -> index in `folded`
  std::set<std::string> seen;            // run, kind and idempotency key of unfolded entries
  for (const LedgerEntry& entry : entries) {
    if (entry.folded == 0 &&
        !seen.insert(entry.run + '\x1f' + (entry.kind == LedgerEntry::Kind::kCommit ? "c" : "e") +
                     '\x1f' + entry.idempotency_key)
             .second) {
      continue;
    }
    const core::SysSeconds bucket =
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::floor<FoldBucket>(entry.at));
    auto [group, added] = groups.try_emplace(GroupKey(entry, bucket), folded.size());
    if (added) {
      LedgerEntry total = entry;
      total.idempotency_key.clear();
      total.request_hash = 0;
      total.at = bucket;
      total.folded = std::max<int64_t>(entry.folded, 1);
      folded.push_back(std::move(total));
      continue;
    }
    LedgerEntry& total = folded[group->second];
    total.cost_micros = core::SaturatingAdd(total.cost_micros, entry.cost_micros);
    total.tokens = core::SaturatingAdd(total.tokens, entry.tokens);
    total.folded = core::SaturatingAdd(total.folded, std::max<int64_t>(entry.folded, 1));
  }
  return folded;
}

}  // namespace agentbudget::authority
