#include "operator/authority/bearer.h"

#include <string_view>

namespace agentbudget::authority {

std::string BearerToken(const http::Request& request) {
  const std::string header = request.Header("Authorization");
  constexpr std::string_view kPrefix = "Bearer ";
  if (header.size() <= kPrefix.size() || header.compare(0, kPrefix.size(), kPrefix) != 0) {
    return "";
  }
  return header.substr(kPrefix.size());
}

}  // namespace agentbudget::authority
