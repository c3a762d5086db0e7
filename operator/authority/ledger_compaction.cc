#include "operator/authority/ledger_compaction.h"

#include <algorithm>
#include <map>
#include <string>

#include "core/money.h"

namespace agentbudget::authority {
namespace {

// Everything that must be equal for two entries to fold into one, as one string.
std::string GroupKey(const LedgerEntry& entry, core::SysSeconds bucket) {
  nlohmann::json key = entry.ToJson();
  for (const char* varying : {"id", "key", "h", "cost", "tok", "tt", "at", "n", "d"}) {
    key.erase(varying);
  }
  key["bucket"] = bucket.time_since_epoch().count();
  return key.dump();
}

}  // namespace

std::vector<LedgerEntry> FoldEntries(const std::vector<LedgerEntry>& entries,
                                     core::SysSeconds keep_digests_after,
                                     const std::vector<LedgerEntry>& counted) {
  Folder folder(keep_digests_after);
  for (const LedgerEntry& entry : counted) {
    folder.Count(entry);
  }
  for (const LedgerEntry& entry : entries) {
    folder.Add(entry);
  }
  return folder.Take();
}

Folder::Folder(core::SysSeconds keep_digests_after, core::SysSeconds retain_from)
    : keep_digests_after_(keep_digests_after), retain_from_(retain_from) {}

void Folder::Count(const LedgerEntry& entry) { first_copies_.Counts(entry); }

void Folder::Add(const LedgerEntry& entry) {
  if (!first_copies_.Counts(entry)) {
    return;
  }
  const core::SysSeconds bucket =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::floor<FoldBucket>(entry.at));
  if (bucket + FoldBucket{1} <= retain_from_) {
    return;  // past retention
  }
  const bool keep_digests = bucket + FoldBucket{1} > keep_digests_after_;
  std::string key = GroupKey(entry, bucket);
  auto group = groups_.find(key);
  if (group == groups_.end()) {
    LedgerEntry total = entry;
    total.idempotency_key.clear();
    total.request_hash = 0;
    total.at = bucket;
    total.folded = 0;
    total.cost_micros = 0;
    total.tokens = 0;
    total.token_types = {};
    total.digests.clear();
    group = groups_.emplace(key, taken_ + folded_.size()).first;
    folded_.emplace_back(std::move(key), std::move(total));
  }
  LedgerEntry& total = folded_[group->second - taken_].second;
  total.cost_micros = core::SaturatingAdd(total.cost_micros, entry.cost_micros);
  total.tokens = core::SaturatingAdd(total.tokens, entry.tokens);
  total.token_types += entry.token_types;
  total.folded = core::SaturatingAdd(total.folded, std::max<int64_t>(entry.folded, 1));
  if (!keep_digests) {
    return;
  }
  if (entry.folded == 0) {
    total.digests.push_back({KeyDigestOf(entry.run, entry.kind, entry.idempotency_key),
                             entry.request_hash, entry.id, entry.cost_micros});
  } else {
    total.digests.insert(total.digests.end(), entry.digests.begin(), entry.digests.end());
  }
}

std::vector<LedgerEntry> Folder::Take() {
  std::vector<LedgerEntry> totals = TakeSettled(core::SysSeconds::max());
  first_copies_ = FirstCopies();
  return totals;
}

std::vector<LedgerEntry> Folder::TakeSettled(core::SysSeconds settled) {
  std::vector<LedgerEntry> totals;
  while (!folded_.empty() && folded_.front().second.at <= settled - FoldBucket{1}) {
    groups_.erase(folded_.front().first);
    totals.push_back(std::move(folded_.front().second));
    folded_.pop_front();
    ++taken_;
  }
  return totals;
}

}  // namespace agentbudget::authority
