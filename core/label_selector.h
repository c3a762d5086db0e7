#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace agentbudget::core {

// Labels as a flat key → value map: attribution keys (team, workflow, repo, environment,
// user, workload, model) or a namespace's labels.
using Labels = std::map<std::string, std::string>;

// A Kubernetes LabelSelector (matchLabels + matchExpressions), with Kubernetes semantics:
// every term must hold; an empty selector matches everything. A value type; immutable
// after parsing, so safe to share between threads.
class LabelSelector {
 public:
  enum class Operator { kIn, kNotIn, kExists, kDoesNotExist };
  struct Requirement {
    std::string key;
    Operator op = Operator::kExists;
    std::vector<std::string> values;
  };

  // The selector that matches every label set.
  LabelSelector() = default;

  // Parses {"matchLabels": {...}, "matchExpressions": [{key, operator, values}]}. A JSON
  // null is the empty selector. Fails with kInvalidArgument naming the bad field: non-string
  // label values, an unknown operator, In/NotIn without values, Exists/DoesNotExist with
  // values.
  static Result<LabelSelector> FromJson(const nlohmann::json& selector);

  // True when every matchLabels entry and every requirement holds for `labels`.
  bool Matches(const Labels& labels) const;

  bool empty() const { return match_labels_.empty() && requirements_.empty(); }

 private:
  Labels match_labels_;
  std::vector<Requirement> requirements_;
};

}  // namespace agentbudget::core
