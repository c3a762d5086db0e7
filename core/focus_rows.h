#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/label_selector.h"
#include "core/rate_card.h"
#include "core/time_zone.h"
#include "core/usage.h"

namespace agentbudget::core {

// 128-bit integers (a GCC and Clang extension) for exact sums of tokens x prices.
__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;

// One unit of committed spend to export: an LLM call's commit (or the total of several
// commits of one run and model, folded by the ledger's compaction), or a direct debit an
// agent reported (tool calls, sandbox minutes, retrieval).
struct FocusCharge {
  SysSeconds at;            // when it was committed
  int64_t cost_micros = 0;  // USD micro-units, as the ledger charged it
  int64_t tokens = 0;       // every token type
  // `tokens` by type (reasoning is a part of output). All zero for a commit that reported
  // no usage, or one recorded before types were kept: its tokens are exported as one
  // "unclassified" SKU at the input price, flagged (FocusRow::pricing_error).
  Usage usage;
  int64_t calls = 1;        // how many calls or debits it holds
  std::string model;        // the model for a call; the kind for a direct debit
  bool event = false;       // a direct debit
  std::string run;
  std::string namespace_name;
  Labels attribution;       // team, workflow, repo, environment, user, workload, model
};

// One FOCUS row: the spend of one run in one charge period (an hour) on one SKU (a model's
// token type at one price, or a kind of direct debit). A value type.
struct FocusRow {
  SysSeconds hour;  // the charge period's start
  std::string run;
  std::string namespace_name;
  Labels attribution;
  bool event = false;
  std::string model;         // the rate card's id, or the name as reported when unknown
  std::string provider;      // "Anthropic", "OpenAI", "Unknown"; "agentbudget" for debits
  std::string token_type;    // "input", "cache read", ...; the kind for a debit
  std::string sku_id;        // provider/model/token-type, or agentbudget/event/kind
  std::string sku_price_id;  // sku_id/tier: "standard", "above-200000-input-tokens", ...
  int64_t quantity = 0;      // tokens, or debits
  // List price per million tokens; for a debit, 1 (priced by its reported amount in USD).
  Money unit_price;
  // Tokens x unit price, exactly, in USD pico-units (1e-12); for a debit, its amount.
  Int128 list_pico = 0;
  int64_t billed_micros = 0;  // the ledger's charge allocated to this row
  int64_t calls = 0;          // commits or debits contributing
  // Non-empty when the rate card has no price for this SKU: names the model and token type,
  // and says which documented fallback the row is listed at.
  std::string pricing_error;
};

// Splits every charge into its token types priced by `rates`, and sums them into one row
// per hour, run, namespace, attribution, model and SKU price, in order of first
// appearance. Prices: the tier that a request of the charge's input tokens per call falls
// in (PricesFor); a model the card does not know, or a cache token type it does not price
// for the model (ModelRate::unpriced), is listed at the card's unknown-model price with
// pricing_error set (never at zero). Billed cost: each charge's ledger cost is
// split over its token types in proportion to their list cost (largest remainder, in
// micro-dollars), so the rows of a charge sum to exactly its cost: the ledger's total to
// the micro-dollar. A charge with a cost but no tokens bills the "unclassified" SKU. Pure.
std::vector<FocusRow> FocusRows(const std::vector<FocusCharge>& charges, const RateCard& rates);

}  // namespace agentbudget::core
