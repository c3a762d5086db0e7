#include "core/focus.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "core/money.h"
#include "core/time_format.h"

namespace agentbudget::core {
namespace {

using std::chrono::days;
using std::chrono::hours;

// RFC 4180: quote fields holding commas, quotes or line breaks; double inner quotes.
std::string Field(const std::string& value) {
  if (value.find_first_of(",\"\r\n") == std::string::npos) {
    return value;
  }
  std::string quoted = "\"";
  for (char c : value) {
    quoted += c;
    if (c == '"') {
      quoted += '"';
    }
  }
  return quoted + "\"";
}

std::string Provider(const std::string& model) {
  if (model.rfind("claude", 0) == 0) {
    return "Anthropic";
  }
  if (model.rfind("gpt", 0) == 0 || model.rfind("o1", 0) == 0 || model.rfind("o3", 0) == 0 ||
      model.rfind("o4", 0) == 0 || model.rfind("codex", 0) == 0) {
    return "OpenAI";
  }
  return "Unknown";
}

// cost / quantity as a decimal with up to ten fractional digits, from integers.
std::string UnitPrice(int64_t cost_micros, int64_t quantity) {
  if (quantity <= 0) {
    return Money::FromMicros(cost_micros).ToFixed(6);
  }
  // Price in 1e-10 USD units.
  const int64_t scaled = SaturatingMultiply(cost_micros, 10'000) / quantity;
  std::string digits = std::to_string(scaled);
  if (digits.size() <= 10) {
    digits.insert(0, 11 - digits.size(), '0');
  }
  std::string text = digits.substr(0, digits.size() - 10) + "." + digits.substr(digits.size() - 10);
  while (text.back() == '0') {
    text.pop_back();
  }
  if (text.back() == '.') {
    text += '0';
  }
  return text;
}

const char* const kColumns[] = {
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingAccountType",
    "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart",
    "CommitmentDiscountCategory", "CommitmentDiscountId", "CommitmentDiscountName",
    "CommitmentDiscountQuantity", "CommitmentDiscountStatus", "CommitmentDiscountType",
    "CommitmentDiscountUnit", "ConsumedQuantity", "ConsumedUnit", "ContractedCost",
    "ContractedUnitPrice", "EffectiveCost", "InvoiceIssuerName", "ListCost", "ListUnitPrice",
    "PricingCategory", "PricingCurrency", "PricingQuantity", "PricingUnit", "ProviderName",
    "PublisherName", "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType",
    "ServiceCategory", "ServiceName", "ServiceSubcategory", "SkuId", "SkuPriceId",
    "SubAccountId", "SubAccountName", "SubAccountType", "Tags", "x_LedgerEntryId", "x_Run",
    "x_Kind"};

}  // namespace

std::string FocusCsv(const std::vector<FocusCharge>& charges, const FocusAccount& account) {
  std::string csv;
  for (const char* column : kColumns) {
    if (!csv.empty()) {
      csv += ',';
    }
    csv += column;
  }
  csv += "\r\n";
  for (const FocusCharge& charge : charges) {
    const auto day = std::chrono::floor<days>(charge.at);
    const std::chrono::year_month_day date{day};
    const auto month = date.year() / date.month() / 1;
    const SysSeconds period_start{std::chrono::sys_days{month}};
    const SysSeconds period_end{std::chrono::sys_days{month + std::chrono::months{1}}};
    const SysSeconds hour_start = std::chrono::floor<hours>(charge.at);
    // Decimals always carry a point, so tools that infer column types read them as decimal.
    const std::string cost = Money::FromMicros(charge.cost_micros).ToFixed(6);
    const std::string provider = charge.event ? "agentbudget" : Provider(charge.model);
    const int64_t quantity = charge.event ? 1 : charge.tokens;
    const std::string unit = charge.event ? "Events" : "Tokens";
    const std::string price = UnitPrice(charge.cost_micros, quantity);
    const std::string quantity_text = std::to_string(quantity) + ".0";
    const std::string description =
        charge.event ? charge.model + " for run " + charge.run
                     : std::to_string(charge.tokens) + " " + charge.model + " tokens for run " + charge.run;
    nlohmann::json tags = nlohmann::json::object();
    for (const auto& [key, value] : charge.attribution) {
      tags[key] = value;
    }
    const std::string values[] = {
        cost, account.id, account.name, "Kubernetes Cluster", "USD", FormatRfc3339(period_end),
        FormatRfc3339(period_start), "Usage", "", description, "Usage-Based",
        FormatRfc3339(hour_start + hours{1}), FormatRfc3339(hour_start), "", "", "", "", "", "", "",
        quantity_text, unit, cost, price, cost, provider, cost, price, "Standard",
        "USD", quantity_text, unit, provider, provider, "", "", charge.run,
        charge.run, "Agent Run", "AI and Machine Learning",
        charge.event ? "Agent Tools and Compute" : provider + " API",
        charge.event ? "Other (AI and Machine Learning)" : "Generative AI", charge.model,
        charge.model, charge.namespace_name, charge.namespace_name, "Kubernetes Namespace",
        tags.dump(), charge.id, charge.run, charge.event ? "event" : "commit"};
    static_assert(sizeof(values) / sizeof(values[0]) == sizeof(kColumns) / sizeof(kColumns[0]));
    bool first = true;
    for (const std::string& value : values) {
      if (!first) {
        csv += ',';
      }
      first = false;
      csv += Field(value);
    }
    csv += "\r\n";
  }
  return csv;
}

}  // namespace agentbudget::core
