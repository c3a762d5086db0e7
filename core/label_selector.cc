#include "core/label_selector.h"

#include <algorithm>

namespace agentbudget::core {
namespace {

Result<LabelSelector::Operator> ParseOperator(const std::string& name) {
  if (name == "In") {
    return LabelSelector::Operator::kIn;
  }
  if (name == "NotIn") {
    return LabelSelector::Operator::kNotIn;
  }
  if (name == "Exists") {
    return LabelSelector::Operator::kExists;
  }
  if (name == "DoesNotExist") {
    return LabelSelector::Operator::kDoesNotExist;
  }
  return InvalidArgument("selector: unknown matchExpressions operator \"" + name + "\"");
}

bool Holds(const LabelSelector::Requirement& requirement, const Labels& labels) {
  auto found = labels.find(requirement.key);
  const bool present = found != labels.end();
  auto listed = [&] {
    return std::find(requirement.values.begin(), requirement.values.end(), found->second) !=
           requirement.values.end();
  };
  switch (requirement.op) {
    case LabelSelector::Operator::kIn:
      return present && listed();
    case LabelSelector::Operator::kNotIn:
      return !present || !listed();
    case LabelSelector::Operator::kExists:
      return present;
    case LabelSelector::Operator::kDoesNotExist:
      return !present;
  }
  return false;
}

}  // namespace

Result<LabelSelector> LabelSelector::FromJson(const nlohmann::json& selector) {
  LabelSelector parsed;
  if (selector.is_null()) {
    return parsed;
  }
  if (!selector.is_object()) {
    return InvalidArgument("selector: must be an object");
  }
  if (auto labels = selector.find("matchLabels"); labels != selector.end() && !labels->is_null()) {
    if (!labels->is_object()) {
      return InvalidArgument("selector.matchLabels: must be an object");
    }
    for (const auto& [key, value] : labels->items()) {
      if (!value.is_string()) {
        return InvalidArgument("selector.matchLabels." + key + ": must be a string");
      }
      parsed.match_labels_[key] = value.get<std::string>();
    }
  }
  auto expressions = selector.find("matchExpressions");
  if (expressions == selector.end() || expressions->is_null()) {
    return parsed;
  }
  if (!expressions->is_array()) {
    return InvalidArgument("selector.matchExpressions: must be an array");
  }
  for (const auto& expression : *expressions) {
    if (!expression.is_object() || !expression.contains("key") ||
        !expression["key"].is_string() || !expression.contains("operator") ||
        !expression["operator"].is_string()) {
      return InvalidArgument("selector.matchExpressions: each entry needs string key and operator");
    }
    Requirement requirement;
    requirement.key = expression["key"].get<std::string>();
    auto op = ParseOperator(expression["operator"].get<std::string>());
    if (!op.ok()) {
      return std::move(op).error();
    }
    requirement.op = *op;
    if (auto values = expression.find("values"); values != expression.end() && !values->is_null()) {
      if (!values->is_array()) {
        return InvalidArgument("selector.matchExpressions[" + requirement.key +
                               "].values: must be an array");
      }
      for (const auto& value : *values) {
        if (!value.is_string()) {
          return InvalidArgument("selector.matchExpressions[" + requirement.key +
                                 "].values: must hold strings");
        }
        requirement.values.push_back(value.get<std::string>());
      }
    }
    const bool set_based = requirement.op == Operator::kIn || requirement.op == Operator::kNotIn;
    if (set_based && requirement.values.empty()) {
      return InvalidArgument("selector.matchExpressions[" + requirement.key +
                             "]: In and NotIn need values");
    }
    if (!set_based && !requirement.values.empty()) {
      return InvalidArgument("selector.matchExpressions[" + requirement.key +
                             "]: Exists and DoesNotExist take no values");
    }
    parsed.requirements_.push_back(std::move(requirement));
  }
  return parsed;
}

bool LabelSelector::Matches(const Labels& labels) const {
  for (const auto& [key, value] : match_labels_) {
    auto found = labels.find(key);
    if (found == labels.end() || found->second != value) {
      return false;
    }
  }
  return std::all_of(requirements_.begin(), requirements_.end(),
                     [&](const Requirement& requirement) { return Holds(requirement, labels); });
}

}  // namespace agentbudget::core
