#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace agentbudget::meter {

// An upstream's base URL, split: "https://api.anthropic.com" or "http://[::1]:8080/prefix".
struct BaseUrl {
  bool tls = false;
  std::string host;  // without brackets: "api.anthropic.com", "::1"
  std::string port;  // "443" when the URL names none for https, "80" for http
  std::string path;  // prefixed to every request target; "" or "/prefix" (no trailing '/')
  // The Host header's value: the host, bracketed when IPv6, with ":port" unless the default.
  std::string HostHeader() const;
};

// Fails with kInvalidArgument, naming the rule, for a scheme other than http and https, an
// empty host, a port that is not a number in 1..65535, or a query or fragment.
Result<BaseUrl> ParseBaseUrl(std::string_view url);

}  // namespace agentbudget::meter
