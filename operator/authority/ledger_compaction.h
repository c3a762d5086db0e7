#pragma once

#include <chrono>
#include <cstdint>
#include <ratio>
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
// one entry holding their summed cost and tokens, `folded` = how many entries it replaces,
// `at` = the bucket's start and `id` = the first folded entry's id. Entries already folded
// fold again. An idempotency key that appears twice (a batch appended twice) counts once.
// Folded entries carry no idempotency key or answer: fold only entries older than the
// idempotency window. A ledger recovered from the result has the same balances (every
// period, every perKey envelope, every run's spend, tokens and request count) as one
// recovered from `entries`. Pure; the result keeps the order of each group's first entry.
std::vector<LedgerEntry> FoldEntries(const std::vector<LedgerEntry>& entries);

}  // namespace agentbudget::authority
