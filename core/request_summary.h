#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace agentbudget::core {

// The top-level members of a request body that the meter decides on: "model", "stream",
// "stream_options" and the output caps ("max_tokens", "max_completion_tokens",
// "max_output_tokens").
bool IsSummaryMember(std::string_view name);

// The members of request `body` named by IsSummaryMember, as a JSON object holding each
// present one with the value json::parse would give it, and nothing else. Read in one pass
// without building the body, whose conversation is most of its bytes: only those members'
// values are parsed. Fails with kInvalidArgument, naming the rule, when json::parse(body)
// fails or gives anything but an object, and when the body names one of those members
// twice: parsers differ on which of the two counts, so the provider could act on a model
// or a cap other than the one the meter judged.
Result<nlohmann::json> SummariseRequest(std::string_view body);

// `body` with the member `name` set to `value` added as its first member, the rest of its
// text unchanged: a change to a long body without parsing it. REQUIRES: `body` is a JSON
// object (SummariseRequest read it) with no member `name`.
std::string WithFirstMember(std::string_view body, std::string_view name,
                            const nlohmann::json& value);

}  // namespace agentbudget::core
