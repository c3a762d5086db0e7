#include "core/focus.h"

#include <chrono>

#include <nlohmann/json.hpp>

#include "core/time_format.h"

namespace agentbudget::core {
namespace {

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

// `value` / 10^scale as a decimal without trailing zeros, always with a point (tools that
// infer column types then read it as a decimal): Decimal(1200, 6) is "0.0012".
std::string Decimal(Int128 value, int scale) {
  const bool negative = value < 0;
  UInt128 magnitude = negative ? -static_cast<UInt128>(value) : value;
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(magnitude % 10)));
    magnitude /= 10;
  } while (magnitude > 0);
  if (digits.size() <= static_cast<size_t>(scale)) {
    digits.insert(0, scale + 1 - digits.size(), '0');
  }
  std::string fraction = digits.substr(digits.size() - scale);
  while (!fraction.empty() && fraction.back() == '0') {
    fraction.pop_back();
  }
  return (negative ? "-" : "") + digits.substr(0, digits.size() - scale) + "." +
         (fraction.empty() ? "0" : fraction);
}

std::string Attribute(const Labels& attribution, const std::string& key) {
  auto found = attribution.find(key);
  return found == attribution.end() ? "" : found->second;
}

const char* const kColumns[] = {
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingAccountType",
    "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart",
    "CommitmentDiscountCategory", "CommitmentDiscountId", "CommitmentDiscountName",
    "CommitmentDiscountQuantity", "CommitmentDiscountStatus", "CommitmentDiscountType",
    "CommitmentDiscountUnit", "ConsumedQuantity", "ConsumedUnit", "ContractedCost",
    "ContractedUnitPrice", "EffectiveCost", "InvoiceId", "InvoiceIssuerName", "ListCost",
    "ListUnitPrice", "PricingCategory", "PricingCurrency", "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost", "PricingCurrencyListUnitPrice", "PricingQuantity", "PricingUnit",
    "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceId", "ResourceName",
    "ResourceType", "ServiceCategory", "ServiceName", "ServiceSubcategory", "SkuId", "SkuMeter",
    "SkuPriceDetails", "SkuPriceId", "SubAccountId", "SubAccountName", "SubAccountType", "Tags",
    // FOCUS 1.3. No charge is split: each is one run's own, so the split cost allocation
    // columns are null on every row, as 1.3 requires for a charge not related to one.
    "AllocatedMethodDetails", "AllocatedMethodId", "AllocatedResourceId", "AllocatedResourceName",
    "AllocatedTags", "HostProviderName", "ServiceProviderName",
    // Extensions.
    "x_ConsumerId", "x_PrincipalId", "x_Run", "x_Kind", "x_Model", "x_TokenType", "x_Calls",
    "x_PricingError"};

}  // namespace

std::string FocusCsv(const std::vector<FocusRow>& rows, const FocusAccount& account) {
  std::string csv;
  for (const char* column : kColumns) {
    if (!csv.empty()) {
      csv += ',';
    }
    csv += column;
  }
  csv += "\r\n";
  for (const FocusRow& row : rows) {
    const std::chrono::year_month_day date{std::chrono::floor<std::chrono::days>(row.hour)};
    const auto month = date.year() / date.month() / 1;
    const SysSeconds period_start{std::chrono::sys_days{month}};
    const SysSeconds period_end{std::chrono::sys_days{month + std::chrono::months{1}}};
    const std::string billed = Decimal(row.billed_micros, 6);
    const std::string list = Decimal(row.list_pico, 12);
    const std::string price = Decimal(row.unit_price.micros(), 6);
    const std::string consumed = Decimal(row.quantity, 0);
    // Tokens are priced per million; a debit by its amount in USD.
    const std::string pricing_quantity =
        row.event ? Decimal(row.list_pico / 1'000'000, 6) : Decimal(row.quantity, 6);
    const std::string pricing_unit = row.event ? "USD" : "1000000 Tokens";
    const std::string description =
        row.event ? std::to_string(row.quantity) + " " + row.token_type +
                        " debits reported for run " + row.run
                  : std::to_string(row.quantity) + " " + row.model + " " + row.token_type +
                        " tokens for run " + row.run;
    const std::string meter = row.event ? "Reported cost" : row.token_type + " tokens";
    // What the price depends on, besides the SKU: the tier (by a request's input tokens).
    const nlohmann::json details =
        row.event ? nlohmann::json{{"x_Kind", row.token_type}}
                  : nlohmann::json{{"x_TokenType", row.token_type},
                                   {"x_PriceTier", row.sku_price_id.substr(
                                                       row.sku_price_id.rfind('/') + 1)}};
    nlohmann::json tags = nlohmann::json::object();
    for (const auto& [key, value] : row.attribution) {
      tags[key] = value;
    }
    const std::string values[] = {
        billed, account.id, account.name, "Kubernetes Cluster", "USD", FormatRfc3339(period_end),
        FormatRfc3339(period_start), "Usage", "", description, "Usage-Based",
        FormatRfc3339(row.hour + hours{1}), FormatRfc3339(row.hour), "", "", "", "", "", "", "",
        consumed, row.event ? "Events" : "Tokens", list, price, billed, "", row.provider, list,
        price, "Standard", "USD", price, billed, price, pricing_quantity, pricing_unit, row.provider, row.provider, "",
        "", row.run, row.run, "Agent Run", "AI and Machine Learning",
        row.event ? "Agent Tools and Compute" : row.provider + " API",
        row.event ? "Other (AI and Machine Learning)" : "Generative AI", row.sku_id, meter,
        details.dump(), row.sku_price_id, row.namespace_name, row.namespace_name, "Kubernetes Namespace",
        tags.dump(), "", "", "", "", "", row.event ? "" : row.provider, row.provider, row.run,
        Attribute(row.attribution, "user"), row.run, row.event ? "event" : "tokens",
        row.model, row.token_type, std::to_string(row.calls), row.pricing_error};
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
