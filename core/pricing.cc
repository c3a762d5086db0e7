#include "core/pricing.h"

#include <algorithm>

namespace agentbudget::core {
namespace {

constexpr int64_t kTokensPerMillion = 1'000'000;

int64_t Term(int64_t tokens, Money price_per_million) {
  return SaturatingMultiply(tokens, price_per_million.micros());
}

}  // namespace

const TokenPrices& PricesFor(const ModelRate& rate, int64_t total_input) {
  const TokenPrices* prices = &rate.prices;
  for (const PriceTier& tier : rate.tiers) {
    if (total_input > tier.above_input_tokens) {
      prices = &tier.prices;
    }
  }
  return *prices;
}

std::vector<std::string> UnpricedTypes(const ModelRate& rate, const Usage& usage) {
  const std::pair<const char*, int64_t> counts[] = {{"cacheRead", usage.cache_read},
                                                    {"cacheWrite5m", usage.cache_write_5m},
                                                    {"cacheWrite1h", usage.cache_write_1h}};
  std::vector<std::string> unpriced;
  for (const auto& [key, tokens] : counts) {
    if (tokens > 0 &&
        std::find(rate.unpriced.begin(), rate.unpriced.end(), key) != rate.unpriced.end()) {
      unpriced.push_back(key);
    }
  }
  return unpriced;
}

Money PriceUsage(const ModelRate& rate, const Usage& usage, bool batch) {
  const TokenPrices& p = PricesFor(rate, usage.TotalInput());
  // Micro-dollars × one million.
  int64_t scaled = 0;
  scaled = SaturatingAdd(scaled, Term(usage.input, p.input));
  scaled = SaturatingAdd(scaled, Term(usage.cache_read, p.cache_read));
  scaled = SaturatingAdd(scaled, Term(usage.cache_write_5m, p.cache_write_5m));
  scaled = SaturatingAdd(scaled, Term(usage.cache_write_1h, p.cache_write_1h));
  scaled = SaturatingAdd(scaled, Term(usage.output, p.output));
  if (batch && rate.batch_discount_percent > 0) {
    // Divide first when large, so that the multiplication cannot saturate early.
    const int64_t keep = 100 - rate.batch_discount_percent;
    scaled = scaled > INT64_MAX / 100 ? (scaled / 100) * keep : scaled * keep / 100;
  }
  int64_t micros = scaled / kTokensPerMillion;
  if (scaled % kTokensPerMillion != 0) {
    micros = SaturatingAdd(micros, 1);
  }
  return Money::FromMicros(micros);
}

}  // namespace agentbudget::core
