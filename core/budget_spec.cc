#include "core/budget_spec.h"

#include <algorithm>

#include "core/money.h"

namespace agentbudget::core {
namespace {

Result<int> Percent(const nlohmann::json& pressure, const char* field, int fallback, int low,
                    int high) {
  auto found = pressure.find(field);
  if (found == pressure.end() || found->is_null()) {
    return fallback;
  }
  if (!found->is_number_integer() || found->get<int64_t>() < low || found->get<int64_t>() > high) {
    return InvalidArgument(std::string("spec.pressure.") + field + ": must be an integer in " +
                           std::to_string(low) + ".." + std::to_string(high));
  }
  return static_cast<int>(found->get<int64_t>());
}

Status ParseLimit(const nlohmann::json& spec, BudgetLimit* limit) {
  auto found = spec.find("limit");
  if (found == spec.end() || !found->is_object()) {
    return InvalidArgument("spec.limit: required object");
  }
  const bool has_amount = found->contains("amount");
  const bool has_tokens = found->contains("tokens");
  if (has_amount == has_tokens) {
    return InvalidArgument("spec.limit: set exactly one of amount or tokens");
  }
  if (has_tokens) {
    const auto& tokens = (*found)["tokens"];
    if (!tokens.is_number_integer() || tokens.get<int64_t>() < 1) {
      return InvalidArgument("spec.limit.tokens: must be a positive integer");
    }
    limit->unit = LimitUnit::kTokens;
    limit->amount = tokens.get<int64_t>();
    return OkStatus();
  }
  const auto& amount = (*found)["amount"];
  if (!amount.is_string()) {
    return InvalidArgument("spec.limit.amount: must be a decimal string");
  }
  auto money = Money::Parse(amount.get<std::string>());
  if (!money.ok()) {
    return InvalidArgument("spec.limit.amount: " + money.error().message);
  }
  if (money->micros() <= 0) {
    return InvalidArgument("spec.limit.amount: must be greater than zero");
  }
  limit->unit = LimitUnit::kMoney;
  limit->amount = money->micros();
  if (auto currency = found->find("currency"); currency != found->end()) {
    if (!currency->is_string() || *currency != "USD") {
      return InvalidArgument("spec.limit.currency: only USD is supported");
    }
  }
  return OkStatus();
}

Result<std::string> OptionalString(const nlohmann::json& spec, const char* field,
                                   const std::string& fallback) {
  auto found = spec.find(field);
  if (found == spec.end() || found->is_null()) {
    return fallback;
  }
  if (!found->is_string()) {
    return InvalidArgument(std::string("spec.") + field + ": must be a string");
  }
  return found->get<std::string>();
}

constexpr const char* kAttributionKeys[] = {"team", "workflow", "repo", "environment",
                                            "user", "workload", "model"};

}  // namespace

std::string BudgetLimit::Format(int64_t value) const {
  if (unit == LimitUnit::kTokens) {
    return std::to_string(value);
  }
  return Money::FromMicros(value).ToString();
}

std::string BudgetLimit::Display() const {
  return Format(amount) + (unit == LimitUnit::kTokens ? " tokens" : " " + currency);
}

bool BudgetSpec::Matches(const Labels& attribution, const Labels& namespace_labels) const {
  if (namespace_selector && !namespace_selector->Matches(namespace_labels)) {
    return false;
  }
  return selector.Matches(attribution);
}

std::string BudgetSpec::KeyOf(const Labels& attribution) const {
  auto found = attribution.find(per_key);
  return found == attribution.end() ? std::string() : found->second;
}

Result<BudgetSpec> ParseAgentBudget(const nlohmann::json& object,
                                    const std::string& zoneinfo_dir) {
  if (!object.is_object()) {
    return InvalidArgument("AgentBudget: must be an object");
  }
  BudgetSpec budget;
  const auto& metadata = object.contains("metadata") ? object["metadata"] : nlohmann::json();
  if (!metadata.is_object() || !metadata.contains("name") || !metadata["name"].is_string() ||
      metadata["name"].get<std::string>().empty()) {
    return InvalidArgument("AgentBudget: metadata.name is required");
  }
  budget.name = metadata["name"].get<std::string>();
  if (metadata.contains("generation") && metadata["generation"].is_number_integer()) {
    budget.generation = metadata["generation"].get<int64_t>();
  }
  const auto& spec = object.contains("spec") ? object["spec"] : nlohmann::json();
  if (!spec.is_object()) {
    return InvalidArgument("AgentBudget " + budget.name + ": spec is required");
  }
  auto fail = [&](const Error& error) {
    return InvalidArgument("AgentBudget " + budget.name + ": " + error.message);
  };
  auto selector = LabelSelector::FromJson(spec.value("selector", nlohmann::json()));
  if (!selector.ok()) {
    return fail(selector.error());
  }
  budget.selector = std::move(*selector);
  if (spec.contains("namespaceSelector") && !spec["namespaceSelector"].is_null()) {
    auto namespaces = LabelSelector::FromJson(spec["namespaceSelector"]);
    if (!namespaces.ok()) {
      return fail(namespaces.error());
    }
    budget.namespace_selector = std::move(*namespaces);
  }
  auto per_key = OptionalString(spec, "perKey", "");
  if (!per_key.ok()) {
    return fail(per_key.error());
  }
  if (!per_key->empty() && std::find(std::begin(kAttributionKeys), std::end(kAttributionKeys),
                                     *per_key) == std::end(kAttributionKeys)) {
    return fail(InvalidArgument("spec.perKey: \"" + *per_key + "\" is not an attribution key"));
  }
  budget.per_key = *per_key;
  auto period_name = OptionalString(spec, "period", "Month");
  if (!period_name.ok()) {
    return fail(period_name.error());
  }
  auto period = ParsePeriodKind(*period_name);
  if (!period.ok()) {
    return fail(period.error());
  }
  budget.period = *period;
  auto zone_name = OptionalString(spec, "timeZone", "UTC");
  if (!zone_name.ok()) {
    return fail(zone_name.error());
  }
  auto zone = TimeZone::Load(*zone_name, zoneinfo_dir);
  if (!zone.ok()) {
    return fail(zone.error());
  }
  budget.zone = std::move(*zone);
  if (auto status = ParseLimit(spec, &budget.limit); !status.ok()) {
    return fail(status.error());
  }
  if (spec.contains("alerts") && !spec["alerts"].is_null()) {
    if (!spec["alerts"].is_array()) {
      return fail(InvalidArgument("spec.alerts: must be an array"));
    }
    budget.alerts.clear();
    for (const auto& alert : spec["alerts"]) {
      if (!alert.is_number_integer() || alert.get<int64_t>() < 1 || alert.get<int64_t>() > 100) {
        return fail(InvalidArgument("spec.alerts: each must be an integer percent in 1..100"));
      }
      budget.alerts.push_back(static_cast<int>(alert.get<int64_t>()));
    }
    std::sort(budget.alerts.begin(), budget.alerts.end());
  }
  const auto& pressure = spec.contains("pressure") && spec["pressure"].is_object()
                             ? spec["pressure"]
                             : nlohmann::json::object();
  auto degrade_at = Percent(pressure, "degradeAt", 80, 1, 100);
  auto queue_at = Percent(pressure, "queueAt", 90, 1, 100);
  auto reserve = Percent(pressure, "reserveForReleaseBlocking", 0, 0, 50);
  for (const auto* result : {&degrade_at, &queue_at, &reserve}) {
    if (!result->ok()) {
      return fail(result->error());
    }
  }
  if (*queue_at < *degrade_at) {
    return fail(InvalidArgument("spec.pressure: queueAt must be >= degradeAt"));
  }
  budget.pressure = {*degrade_at, *queue_at, *reserve,
                     pressure.contains("forecast") && pressure["forecast"].is_boolean() &&
                         pressure["forecast"].get<bool>()};
  auto on_exhausted = OptionalString(spec, "onExhausted", "Deny");
  if (!on_exhausted.ok()) {
    return fail(on_exhausted.error());
  }
  if (*on_exhausted != "Deny" && *on_exhausted != "Observe") {
    return fail(InvalidArgument("spec.onExhausted: must be Deny or Observe"));
  }
  budget.on_exhausted = *on_exhausted == "Observe" ? OnExhausted::kObserve : OnExhausted::kDeny;
  return budget;
}

}  // namespace agentbudget::core
