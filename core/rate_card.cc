#include "core/rate_card.h"

#include <algorithm>
#include <cctype>
#include <exception>

#include <yaml-cpp/yaml.h>

namespace agentbudget::core {
namespace {

Error Bad(const std::string& where, const std::string& what) {
  return InvalidArgument("rate card: " + where + ": " + what);
}

Result<Money> ParsePrice(const YAML::Node& prices, const char* key, const std::string& where) {
  const YAML::Node node = prices[key];
  if (!node || !node.IsScalar()) {
    return Bad(where, std::string("missing price ") + key);
  }
  auto money = Money::Parse(node.Scalar());
  if (!money.ok()) {
    return Bad(where, std::string(key) + ": " + money.error().message);
  }
  if (money->micros() < 0) {
    return Bad(where, std::string(key) + " is negative");
  }
  return *money;
}

// The price keys of a prices map and where each is kept; the cache ones may be unpriced.
struct PriceField {
  const char* key;
  Money TokenPrices::*slot;
  bool optional;
};
constexpr PriceField kPriceFields[] = {{"input", &TokenPrices::input, false},
                                       {"cacheRead", &TokenPrices::cache_read, true},
                                       {"cacheWrite5m", &TokenPrices::cache_write_5m, true},
                                       {"cacheWrite1h", &TokenPrices::cache_write_1h, true},
                                       {"output", &TokenPrices::output, false}};

// Reads a prices map. With `base`, absent keys fall back to it (tiers list only changes).
// With `unpriced`, an absent cache price is added to it instead of failing.
Result<TokenPrices> ParsePrices(const YAML::Node& node, const std::string& where,
                                const TokenPrices* base,
                                std::vector<std::string>* unpriced = nullptr) {
  if (!node || !node.IsMap()) {
    return Bad(where, "prices must be a map");
  }
  TokenPrices out = base != nullptr ? *base : TokenPrices{};
  for (const auto& [key, field, optional] : kPriceFields) {
    Money* slot = &(out.*field);
    if (base != nullptr && !node[key]) {
      continue;
    }
    if (unpriced != nullptr && optional && !node[key]) {
      unpriced->push_back(key);
      continue;
    }
    auto price = ParsePrice(node, key, where);
    if (!price.ok()) {
      return price.error();
    }
    *slot = *price;
  }
  return out;
}

std::string Scalar(const YAML::Node& node, const char* key) {
  const YAML::Node child = node[key];
  return child && child.IsScalar() ? child.Scalar() : std::string();
}

Result<ModelRate> ParseModel(const YAML::Node& node, size_t index) {
  if (!node.IsMap()) {
    return Bad("models[" + std::to_string(index) + "]", "must be a map");
  }
  ModelRate rate;
  rate.id = Scalar(node, "id");
  if (rate.id.empty()) {
    return Bad("models[" + std::to_string(index) + "]", "missing id");
  }
  const std::string where = "model " + rate.id;
  rate.provider = Scalar(node, "provider");
  rate.source = Scalar(node, "source");
  rate.date = Scalar(node, "date");
  if (const YAML::Node aliases = node["aliases"]) {
    if (!aliases.IsSequence()) {
      return Bad(where, "aliases must be a list");
    }
    for (const auto& alias : aliases) {
      rate.aliases.push_back(alias.as<std::string>());
    }
  }
  auto prices = ParsePrices(node["prices"], where, nullptr, &rate.unpriced);
  if (!prices.ok()) {
    return prices.error();
  }
  rate.prices = *prices;
  if (const YAML::Node tiers = node["longContext"]) {
    if (!tiers.IsSequence()) {
      return Bad(where, "longContext must be a list");
    }
    for (const auto& tier_node : tiers) {
      PriceTier tier;
      const YAML::Node above = tier_node["aboveInputTokens"];
      if (!above || !above.IsScalar()) {
        return Bad(where, "longContext tier lacks aboveInputTokens");
      }
      tier.above_input_tokens = above.as<int64_t>();
      auto tier_prices = ParsePrices(tier_node["prices"], where + " longContext", &rate.prices);
      if (!tier_prices.ok()) {
        return tier_prices.error();
      }
      tier.prices = *tier_prices;
      rate.tiers.push_back(tier);
    }
    std::sort(rate.tiers.begin(), rate.tiers.end(),
              [](const PriceTier& a, const PriceTier& b) {
                return a.above_input_tokens < b.above_input_tokens;
              });
  }
  if (const YAML::Node batch = node["batchDiscountPercent"]) {
    rate.batch_discount_percent = batch.as<int>();
    if (rate.batch_discount_percent < 0 || rate.batch_discount_percent > 100) {
      return Bad(where, "batchDiscountPercent must be within 0..100");
    }
  }
  return rate;
}

struct ParsedCard {
  std::vector<ModelRate> models;
  std::optional<ModelRate> unknown;
};

Result<ParsedCard> ParseDocument(std::string_view text) {
  ParsedCard out;
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsMap()) {
      return Bad("document", "must be a map with models and unknownModel");
    }
    if (const YAML::Node models = root["models"]) {
      if (!models.IsSequence()) {
        return Bad("models", "must be a list");
      }
      for (size_t i = 0; i < models.size(); ++i) {
        auto model = ParseModel(models[i], i);
        if (!model.ok()) {
          return model.error();
        }
        out.models.push_back(std::move(*model));
      }
    }
    if (const YAML::Node unknown = root["unknownModel"]) {
      ModelRate rate;
      rate.id = "unknown";
      rate.source = Scalar(unknown, "source");
      auto prices = ParsePrices(unknown["prices"], "unknownModel", nullptr);
      if (!prices.ok()) {
        return prices.error();
      }
      rate.prices = *prices;
      out.unknown = std::move(rate);
    }
  } catch (const std::exception& e) {
    return Bad("document", e.what());
  }
  return out;
}

}  // namespace

Status RateCard::Index() {
  by_name_.clear();
  for (ModelRate& model : models_) {
    for (const auto& [key, field, optional] : kPriceFields) {
      if (std::find(model.unpriced.begin(), model.unpriced.end(), key) == model.unpriced.end()) {
        continue;
      }
      model.prices.*field = unknown_.prices.*field;
      for (PriceTier& tier : model.tiers) {
        tier.prices.*field = unknown_.prices.*field;
      }
    }
  }
  for (size_t i = 0; i < models_.size(); ++i) {
    if (!by_name_.emplace(models_[i].id, i).second) {
      return Bad("model " + models_[i].id, "duplicate id or alias");
    }
    for (const auto& alias : models_[i].aliases) {
      if (!by_name_.emplace(alias, i).second) {
        return Bad("model " + models_[i].id, "alias " + alias + " is already taken");
      }
    }
  }
  return OkStatus();
}

Result<RateCard> RateCard::FromYaml(std::string_view text) {
  auto parsed = ParseDocument(text);
  if (!parsed.ok()) {
    return parsed.error();
  }
  if (!parsed->unknown) {
    return Bad("document", "missing unknownModel (the price of models not listed)");
  }
  RateCard card;
  card.models_ = std::move(parsed->models);
  card.unknown_ = std::move(*parsed->unknown);
  if (Status indexed = card.Index(); !indexed.ok()) {
    return std::move(indexed).error();
  }
  return card;
}

Result<RateCard> RateCard::WithOverrides(std::string_view overrides_yaml) const {
  auto parsed = ParseDocument(overrides_yaml);
  if (!parsed.ok()) {
    return parsed.error();
  }
  RateCard card(*this);
  for (auto& model : parsed->models) {
    auto same = std::find_if(card.models_.begin(), card.models_.end(),
                             [&](const ModelRate& m) { return m.id == model.id; });
    if (same != card.models_.end()) {
      *same = std::move(model);
    } else {
      card.models_.push_back(std::move(model));
    }
  }
  if (parsed->unknown) {
    card.unknown_ = std::move(*parsed->unknown);
  }
  if (Status indexed = card.Index(); !indexed.ok()) {
    return std::move(indexed).error();
  }
  return card;
}

ResolvedRate RateCard::Resolve(std::string_view model) const {
  if (const auto it = by_name_.find(model); it != by_name_.end()) {
    return {&models_[it->second], true};
  }
  if (auto stripped = StripModelDate(model)) {
    if (const auto it = by_name_.find(*stripped); it != by_name_.end()) {
      return {&models_[it->second], true};
    }
  }
  return {&unknown_, false};
}

std::string RateCard::BoundedId(std::string_view model) const {
  const ResolvedRate resolved = Resolve(model);
  return resolved.known ? resolved.rate->id : kOtherModel;
}

std::optional<std::string> StripModelDate(std::string_view model) {
  const auto digits = [&](size_t from, size_t count) {
    return std::all_of(model.begin() + from, model.begin() + from + count,
                       [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  };
  // "-YYYYMMDD"
  if (model.size() > 9 && model[model.size() - 9] == '-' && digits(model.size() - 8, 8)) {
    return std::string(model.substr(0, model.size() - 9));
  }
  // "-YYYY-MM-DD"
  if (model.size() > 11 && model[model.size() - 11] == '-' && digits(model.size() - 10, 4) &&
      model[model.size() - 6] == '-' && digits(model.size() - 5, 2) &&
      model[model.size() - 3] == '-' && digits(model.size() - 2, 2)) {
    return std::string(model.substr(0, model.size() - 11));
  }
  return std::nullopt;
}

}  // namespace agentbudget::core
