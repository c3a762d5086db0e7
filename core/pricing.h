#pragma once

#include <string>
#include <vector>

#include "core/money.h"
#include "core/rate_card.h"
#include "core/usage.h"

namespace agentbudget::core {

// The cost of `usage` at `rate`: the long-context tier whose threshold the request's total
// input exceeds (the highest such) prices the whole request, else the base prices; the
// batch discount applies when `batch`. Each bucket is tokens × price-per-million; the sum is
// divided by one million once and rounded up to the next micro-dollar, so a call is never
// charged less than it cost. Integer arithmetic throughout; saturates instead of overflowing.
Money PriceUsage(const ModelRate& rate, const Usage& usage, bool batch = false);

// The price keys ("cacheRead", "cacheWrite5m", "cacheWrite1h") of the token types `usage`
// has and `rate` does not price (ModelRate::unpriced): PriceUsage charged them at the
// card's unknownModel price. Empty when the card priced every token of `usage`.
std::vector<std::string> UnpricedTypes(const ModelRate& rate, const Usage& usage);

// The prices that apply to a request with `total_input` input tokens.
const TokenPrices& PricesFor(const ModelRate& rate, int64_t total_input);

}  // namespace agentbudget::core
