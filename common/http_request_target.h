#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace agentbudget::http {

// A request target split into its percent-decoded path and its raw query.
struct RequestTarget {
  std::string path;   // "/" when the target has no path
  std::string query;  // without '?', possibly empty
};

// Splits an origin-form target ("/a%20b?x=1" -> "/a b", "x=1"). Fails with kInvalidArgument
// (naming the rule) when the target does not start with '/', or a '%' is not followed by two
// hex digits, or the decoded path holds a NUL byte. Never throws.
Result<RequestTarget> ParseRequestTarget(std::string_view target);

}  // namespace agentbudget::http
