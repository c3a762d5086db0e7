#include "core/focus_rows.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <tuple>

#include "core/pricing.h"

namespace agentbudget::core {
namespace {

// A token type as providers bill it: its name in descriptions, in SKU ids, and where its
// count and price are kept.
struct TokenType {
  const char* name;
  const char* sku;
  const char* price_key;  // in a rate card
  int64_t Usage::*tokens;
  Money TokenPrices::*price;
};

constexpr TokenType kTokenTypes[] = {
    {"input", "input", "input", &Usage::input, &TokenPrices::input},
    {"cache read", "cache-read", "cacheRead", &Usage::cache_read, &TokenPrices::cache_read},
    {"cache write 5m", "cache-write-5m", "cacheWrite5m", &Usage::cache_write_5m,
     &TokenPrices::cache_write_5m},
    {"cache write 1h", "cache-write-1h", "cacheWrite1h", &Usage::cache_write_1h,
     &TokenPrices::cache_write_1h},
    {"output", "output", "output", &Usage::output, &TokenPrices::output},
};

// The provider of a model: the rate card's, else guessed from the name.
std::string ProviderOf(const ResolvedRate& rate, const std::string& model) {
  const std::string& provider = rate.known ? rate.rate->provider : model;
  if (provider == "anthropic" || provider.starts_with("claude")) {
    return "Anthropic";
  }
  if (provider == "openai" || provider.starts_with("gpt") || provider.starts_with("o1") ||
      provider.starts_with("o3") || provider.starts_with("o4") || provider.starts_with("codex")) {
    return "OpenAI";
  }
  return "Unknown";
}

// The name of the price tier `prices` is in: "standard" or "above-N-input-tokens".
std::string TierName(const ModelRate& rate, const TokenPrices& prices) {
  for (const PriceTier& tier : rate.tiers) {
    if (&tier.prices == &prices) {
      return "above-" + std::to_string(tier.above_input_tokens) + "-input-tokens";
    }
  }
  return "standard";
}

// One token type of one charge, before it is summed into its row.
struct Part {
  FocusRow row;       // identity, price and quantity; costs filled below
  Int128 list_pico = 0;
};

// Splits `cost` over `parts` in proportion to their list cost (largest remainder); all to
// the first part when none has a list cost. REQUIRES: !parts.empty().
void Allocate(int64_t cost, std::vector<Part>& parts) {
  Int128 total = 0;
  for (const Part& part : parts) {
    total += part.list_pico;
  }
  if (total == 0) {
    parts.front().row.billed_micros = cost;
    return;
  }
  // Keep cost x weight within 128 bits: weights are only scaled down for totals no real
  // ledger reaches (above 2^62 pico-dollars, about $4.6 million in one entry).
  std::vector<Int128> weights;
  int shift = 0;
  while ((total >> shift) > (static_cast<Int128>(1) << 62)) {
    ++shift;
  }
  Int128 weight_total = 0;
  for (const Part& part : parts) {
    weights.push_back(part.list_pico >> shift);
    weight_total += weights.back();
  }
  std::vector<std::pair<Int128, size_t>> remainders;
  int64_t given = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Int128 scaled = static_cast<Int128>(cost) * weights[i];
    parts[i].row.billed_micros = static_cast<int64_t>(scaled / weight_total);
    given += parts[i].row.billed_micros;
    remainders.emplace_back(scaled % weight_total, i);
  }
  // Largest remainder first; among equal ones, the earlier token type.
  std::sort(remainders.begin(), remainders.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  for (size_t i = 0; given < cost; i = (i + 1) % remainders.size()) {
    ++parts[remainders[i].second].row.billed_micros;
    ++given;
  }
}

// The parts of a call's charge: one per token type it used (or one "unclassified").
std::vector<Part> CallParts(const FocusCharge& charge, const RateCard& rates, FocusRow base) {
  const ResolvedRate rate = rates.Resolve(charge.model);
  base.model = rate.known ? rate.rate->id : charge.model;
  base.provider = ProviderOf(rate, charge.model);
  const TokenPrices& prices =
      PricesFor(*rate.rate, charge.usage.TotalInput() / std::max<int64_t>(charge.calls, 1));
  const std::string tier = rate.known ? TierName(*rate.rate, prices) : "unknown-model";
  const std::vector<std::string> unpriced = UnpricedTypes(*rate.rate, charge.usage);
  std::vector<Part> parts;
  auto add = [&](const std::string& type, const std::string& sku, int64_t tokens, Money price,
                 bool priced) {
    Part part;
    part.row = base;
    part.row.token_type = type;
    part.row.sku_id = base.provider + "/" + base.model + "/" + sku;
    part.row.sku_price_id = part.row.sku_id + "/" + tier;
    part.row.quantity = tokens;
    part.row.unit_price = price;
    part.list_pico = static_cast<Int128>(tokens) * price.micros();
    if (!rate.known || !priced) {
      part.row.pricing_error = "the rate card has no price for model \"" + charge.model +
                               "\" token type " + type +
                               ": listed and charged at the card's unknownModel price";
    }
    parts.push_back(std::move(part));
  };
  if (charge.usage.Total() == 0) {
    add("unclassified", "unclassified", charge.tokens, prices.input, true);
    if (rate.known) {
      parts.back().row.pricing_error =
          "the ledger entry has no token types (its commit reported no usage, or predates "
          "them): its " +
          std::to_string(charge.tokens) + " tokens of model \"" + charge.model +
          "\" are listed at the input price";
    }
    return parts;
  }
  for (const TokenType& type : kTokenTypes) {
    if (charge.usage.*type.tokens > 0) {
      const bool priced =
          std::find(unpriced.begin(), unpriced.end(), type.price_key) == unpriced.end();
      add(type.name, type.sku, charge.usage.*type.tokens, prices.*type.price, priced);
    }
  }
  return parts;
}

// A direct debit: one part, priced by its amount (quantity the debits, unit price $1 a USD).
std::vector<Part> EventParts(const FocusCharge& charge, FocusRow base) {
  Part part;
  part.row = std::move(base);
  part.row.model = charge.model;
  part.row.provider = "agentbudget";
  part.row.token_type = charge.model;
  part.row.sku_id = "agentbudget/event/" + charge.model;
  part.row.sku_price_id = part.row.sku_id + "/reported-cost";
  part.row.quantity = charge.calls;
  part.row.unit_price = Money::FromMicros(Money::kMicrosPerUnit);
  part.list_pico = static_cast<Int128>(charge.cost_micros) * 1'000'000;
  return {std::move(part)};
}

}  // namespace

std::vector<FocusRow> FocusRows(const std::vector<FocusCharge>& charges, const RateCard& rates) {
  using Key = std::tuple<int64_t, std::string, std::string, Labels, std::string, std::string>;
  std::map<Key, size_t> index;
  std::vector<FocusRow> rows;
  for (const FocusCharge& charge : charges) {
    FocusRow base;
    base.hour = std::chrono::floor<std::chrono::hours>(charge.at);
    base.run = charge.run;
    base.namespace_name = charge.namespace_name;
    base.attribution = charge.attribution;
    base.event = charge.event;
    std::vector<Part> parts =
        charge.event ? EventParts(charge, std::move(base)) : CallParts(charge, rates, std::move(base));
    Allocate(charge.cost_micros, parts);
    for (Part& part : parts) {
      FocusRow& row = part.row;
      const Key key{row.hour.time_since_epoch().count(), row.run, row.namespace_name,
                    row.attribution, row.sku_price_id, row.pricing_error};
      auto [at, added] = index.try_emplace(key, rows.size());
      if (added) {
        row.list_pico = part.list_pico;
        row.calls = charge.calls;
        rows.push_back(std::move(row));
        continue;
      }
      FocusRow& sum = rows[at->second];
      sum.quantity = SaturatingAdd(sum.quantity, row.quantity);
      sum.list_pico += part.list_pico;
      sum.billed_micros = SaturatingAdd(sum.billed_micros, row.billed_micros);
      sum.calls = SaturatingAdd(sum.calls, charge.calls);
    }
  }
  return rows;
}

}  // namespace agentbudget::core
