#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "webhook/admission_review.h"

namespace agentbudget::webhook {

// A refusal by one of the webhook's rules (docs/webhook.md, "Rules"): what is wrong, the
// rule's id and how to comply. A value type.
struct RuleViolation {
  std::string rule;     // "reserved-name"
  std::string problem;  // `container name "agentbudget-meter" is reserved for agentbudget`
  std::string fix;      // "rename the container"
};

// 403 Forbidden with "<subject>: <problem> (rule <rule>); <fix>", and `rule` set.
inline AdmissionDecision DenyByRule(const std::string& subject, const RuleViolation& violation) {
  AdmissionDecision d = AdmissionDecision::Deny(
      403, subject + ": " + violation.problem + " (rule " + violation.rule + "); " + violation.fix);
  d.rule = violation.rule;
  return d;
}

// `text` as a JSON string, quotes and escapes included, for messages: "\"a b\"".
inline std::string Quoted(const std::string& text) { return nlohmann::json(text).dump(); }

// "pod <namespace>/<name>" for messages; a generateName object shows as "<generateName>*"
// and a nameless one as "(unnamed)".
std::string SubjectOf(const char* kind, const std::string& namespace_name,
                      const nlohmann::json& object);

}  // namespace agentbudget::webhook
