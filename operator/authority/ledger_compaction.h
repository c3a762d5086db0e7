#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <ratio>
#include <string>
#include <utility>
#include <vector>

#include "core/time_zone.h"
#include "operator/authority/ledger_entry.h"

namespace agentbudget::authority {

// The granularity of folded entries. Every period boundary (a local midnight, or the
// instant a spring-forward skips it) falls on a multiple of 15 minutes in UTC, as every
// time zone's offset is a multiple of 15 minutes (historical local mean times aside), so
// spend folded into 15-minute buckets lands in exactly the periods it was committed in.
using FoldBucket = std::chrono::duration<int64_t, std::ratio<15 * 60>>;

// Folds settled ledger entries into totals: entries with the same kind, run, namespace,
// attribution, model, lateness and charges, committed in the same 15-minute bucket, become
// one entry holding their summed cost, tokens and tokens by type (types stay apart),
// `folded` = how many commits or events it holds, `at` = the bucket's start and `id` = the
// first folded entry's id. Entries already folded fold again. An idempotency key that
// appears twice (a batch appended twice, or a raw copy of a key already folded) counts
// once; keys are compared by KeyDigestOf. A folded bucket that ends after
// `keep_digests_after` keeps the KeyDigest of every key it holds, so replays inside the
// idempotency window still get their first answer; older buckets drop them. A ledger
// recovered from the result has the same balances (every period, every perKey envelope,
// every run's spend, tokens and request count) as one recovered from `entries`. Pure; the
// result keeps the order of each group's first entry. Keys of `counted` (entries folded
// before, which the result will be stored next to) count as seen: a raw copy of one of
// them in `entries` is left out.
std::vector<LedgerEntry> FoldEntries(const std::vector<LedgerEntry>& entries,
                                     core::SysSeconds keep_digests_after,
                                     const std::vector<LedgerEntry>& counted = {});

// FoldEntries one entry at a time, so that a long ledger is never decoded whole: its
// memory is the totals made so far and one digest per key seen. Count() is FoldEntries'
// `counted`, Add() its `entries`; call every Count() before the first Add() it must cover.
// Entries whose bucket ends at or before `retain_from` are dropped (retention,
// CompactOptions::retain_from). Not thread-safe.
class Folder {
 public:
  explicit Folder(core::SysSeconds keep_digests_after,
                  core::SysSeconds retain_from = core::SysSeconds::min());
  // Marks the keys of `entry` (already stored next to the result) as seen.
  void Count(const LedgerEntry& entry);
  // Folds `entry` into its group's total, unless its key was seen.
  void Add(const LedgerEntry& entry);
  // The totals, in order of each group's first entry; the folder is empty afterwards.
  std::vector<LedgerEntry> Take();
  // The leading totals (in that order) whose buckets end at or before `settled`, taken out
  // so their memory goes: for entries fed roughly in time order, as a ledger's are. An
  // entry of a taken group added later starts a new total of the same group, which counts
  // the same (a recovered ledger sums them), only less compactly.
  std::vector<LedgerEntry> TakeSettled(core::SysSeconds settled);

 private:
  core::SysSeconds keep_digests_after_;
  core::SysSeconds retain_from_;
  // Totals not yet taken, in order of first entry, with their group keys; the total at
  // position i has number taken_ + i.
  std::deque<std::pair<std::string, LedgerEntry>> folded_;
  size_t taken_ = 0;
  std::map<std::string, size_t> groups_;  // group key -> number of its total
  FirstCopies first_copies_;
};

}  // namespace agentbudget::authority
