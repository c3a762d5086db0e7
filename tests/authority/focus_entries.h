#pragma once

#include <chrono>
#include <vector>

#include "operator/authority/ledger_entry.h"

namespace agentbudget::authority {

// 2026-11-27T12:00:00Z.
inline const core::SysSeconds kNoon{std::chrono::seconds{1'795'780'800}};

// A call, a compute debit, the same call again and one 40 days earlier: the entries the
// FOCUS export tests write.

inline std::vector<LedgerEntry> Entries() {
  using std::chrono::seconds;
  LedgerEntry call;
  call.kind = LedgerEntry::Kind::kCommit;
  call.id = "r-1";
  call.run = "uid-1";
  call.idempotency_key = "c1";
  call.namespace_name = "agents";
  call.attribution = {{"team", "payments"}, {"user", "alice"}, {"repo", "org/app"},
                      {"model", "claude-sonnet-4-5"}};
  call.model = "claude-sonnet-4-5";
  // At the shipped card's $3 / $0.30 / $3.75 / $15 per million: 600 + 240 + 375 + 1500
  // pico-dollars x 10^6.
  call.token_types = {.input = 200, .cache_read = 800, .cache_write_5m = 100, .output = 100};
  call.tokens = 1200;
  call.cost_micros = 2715;
  call.at = kNoon;
  LedgerEntry debit = call;
  debit.kind = LedgerEntry::Kind::kEvent;
  debit.id = "e-2";
  debit.idempotency_key = "e1";
  debit.model = "sandbox";
  debit.cost_micros = 800;
  debit.tokens = 0;
  debit.token_types = {};
  LedgerEntry earlier = call;
  earlier.idempotency_key = "c0";
  earlier.at = kNoon - seconds{86400 * 40};
  return {call, debit, call, earlier};
}

}  // namespace agentbudget::authority
