#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "core/money.h"

namespace agentbudget::core {

// Prices of one model, each in micro-dollars per million tokens (so "$0.125 per MTok" is
// Money 0.125). A value type.
struct TokenPrices {
  Money input;
  Money cache_read;
  Money cache_write_5m;
  Money cache_write_1h;
  Money output;
  bool operator==(const TokenPrices&) const = default;
};

// Prices that replace the base prices for a whole request whose total input (input + cache
// reads + cache writes) exceeds `above_input_tokens`.
struct PriceTier {
  int64_t above_input_tokens = 0;
  TokenPrices prices;
};

struct ModelRate {
  std::string id;                    // canonical model id, e.g. "claude-sonnet-4-5"
  std::string provider;              // "anthropic" | "openai"
  std::vector<std::string> aliases;  // other names that resolve here
  TokenPrices prices;
  std::vector<PriceTier> tiers;  // ascending by above_input_tokens
  int batch_discount_percent = 0;  // 0..100, off every price for batch requests
  std::string source;  // where the prices were read
  std::string date;    // when they were read (YYYY-MM-DD or YYYY-MM)
  // The cache prices the card does not list for this model ("cacheRead", "cacheWrite5m",
  // "cacheWrite1h"): tokens of these types are charged at the card's unknownModel price
  // for the type (in every tier), and reported as unpriced (UnpricedTypes).
  std::vector<std::string> unpriced;
};

// The name that stands for every model not on a rate card where names must come from a
// bounded set (map keys, metric label values): RateCard::BoundedId.
inline constexpr char kOtherModel[] = "other";

// The outcome of looking a model name up.
struct ResolvedRate {
  const ModelRate* rate = nullptr;  // never null; points into the RateCard
  bool known = false;               // false: the card's unknown-model default was used
};

// A rate card: per-model prices loaded from YAML (see meter/rates/default-rates.yaml for the
// schema). Immutable after loading, so safe to share between threads for reading.
class RateCard {
 public:
  // Parses a rate card document. Fails with kInvalidArgument naming the model and field
  // for a malformed price, a missing input or output price (or any missing unknownModel
  // price), a duplicate id or alias, or a missing unknownModel. A missing cache price is
  // not an error of the card: see ModelRate::unpriced.
  static Result<RateCard> FromYaml(std::string_view text);

  // A card whose models are this card's, replaced or extended by `overrides`' models (by
  // id), and whose unknown-model price is the override's when it sets one.
  // Fails with kInvalidArgument when the merge would make a name ambiguous.
  Result<RateCard> WithOverrides(std::string_view overrides_yaml) const;

  // Resolves a model name: exact id, then alias, then the name with a trailing date
  // removed ("claude-sonnet-4-5-20250929", "gpt-5-2025-08-07") and resolved again; else the
  // unknown-model default with known = false.
  ResolvedRate Resolve(std::string_view model) const;

  // The card's canonical id for `model` (resolved as Resolve does), or kOtherModel for a
  // name the card does not know: the bounded set of names a pod-supplied model may become
  // as a map key or metric label value (what it is charged is still Resolve's).
  std::string BoundedId(std::string_view model) const;

  const std::vector<ModelRate>& models() const { return models_; }

 private:
  RateCard() = default;
  // Indexes names and prices every model's unpriced types at unknown_'s prices.
  Status Index();

  std::vector<ModelRate> models_;
  ModelRate unknown_;
  std::map<std::string, size_t, std::less<>> by_name_;  // ids and aliases → index
};

// Removes a trailing "-YYYYMMDD" or "-YYYY-MM-DD" from a model id; nullopt when none.
std::optional<std::string> StripModelDate(std::string_view model);

}  // namespace agentbudget::core
