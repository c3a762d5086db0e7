#include "webhook/identities.h"

#include <algorithm>
#include <cctype>

namespace agentbudget::webhook {
namespace {

constexpr std::string_view kGroupPrefix = "group:";

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

Result<IdentityList> IdentityList::Parse(std::string_view text) {
  IdentityList out;
  if (Trim(text).empty()) {
    return out;
  }
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) {
      comma = text.size();
    }
    const std::string_view item = Trim(text.substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) {
      return InvalidArgument("empty item in \"" + std::string(text) + "\"");
    }
    if (std::any_of(item.begin(), item.end(),
                    [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; })) {
      return InvalidArgument("\"" + std::string(item) + "\" contains whitespace");
    }
    if (item.starts_with(kGroupPrefix)) {
      if (item.size() == kGroupPrefix.size()) {
        return InvalidArgument("\"group:\" needs a group name (group:NAME)");
      }
      out.groups_.emplace_back(item.substr(kGroupPrefix.size()));
    } else {
      out.users_.emplace_back(item);
    }
  }
  return out;
}

bool IdentityList::Includes(const std::string& username,
                            const std::vector<std::string>& groups) const {
  if (!username.empty() && std::find(users_.begin(), users_.end(), username) != users_.end()) {
    return true;
  }
  return std::any_of(groups.begin(), groups.end(), [this](const std::string& group) {
    return std::find(groups_.begin(), groups_.end(), group) != groups_.end();
  });
}

std::string IdentityList::ToString() const {
  std::string out;
  for (const std::string& user : users_) {
    out += (out.empty() ? "" : ",") + user;
  }
  for (const std::string& group : groups_) {
    out += (out.empty() ? "" : ",") + std::string(kGroupPrefix) + group;
  }
  return out;
}

}  // namespace agentbudget::webhook
