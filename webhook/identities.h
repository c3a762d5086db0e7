#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace agentbudget::webhook {

// A set of identities from a flag: usernames and, written "group:NAME", groups
// (--operator-users, --job-controller-users, --trusted-creators). A value type.
class IdentityList {
 public:
  // Parses a comma-separated list; items are trimmed, empty text is the empty list. Fails
  // with kInvalidArgument naming the item for an empty item, whitespace inside a name, or
  // "group:" without a name.
  static Result<IdentityList> Parse(std::string_view text);

  // True when `username` is listed, or one of `groups` is.
  bool Includes(const std::string& username, const std::vector<std::string>& groups) const;

  bool empty() const { return users_.empty() && groups_.empty(); }
  // The list as Parse reads it: "a,b,group:g".
  std::string ToString() const;

 private:
  std::vector<std::string> users_;
  std::vector<std::string> groups_;
};

}  // namespace agentbudget::webhook
