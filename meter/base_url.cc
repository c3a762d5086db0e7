#include "meter/base_url.h"

#include <charconv>

namespace agentbudget::meter {

std::string BaseUrl::HostHeader() const {
  const std::string name = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  const bool default_port = port == (tls ? "443" : "80");
  return default_port ? name : name + ":" + port;
}

Result<BaseUrl> ParseBaseUrl(std::string_view url) {
  const std::string quoted = "upstream URL \"" + std::string(url) + "\"";
  BaseUrl base;
  if (url.starts_with("https://")) {
    base.tls = true;
    url.remove_prefix(8);
  } else if (url.starts_with("http://")) {
    url.remove_prefix(7);
  } else {
    return InvalidArgument(quoted + ": the scheme must be http or https");
  }
  if (url.find_first_of("?#") != std::string_view::npos) {
    return InvalidArgument(quoted + ": a base URL has no query or fragment");
  }
  const size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  if (slash != std::string_view::npos) {
    base.path = std::string(url.substr(slash));
    while (!base.path.empty() && base.path.back() == '/') {
      base.path.pop_back();
    }
  }
  std::string_view port;
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return InvalidArgument(quoted + ": an IPv6 host needs its closing ']'");
    }
    base.host = std::string(authority.substr(1, close - 1));
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(":")) {
      return InvalidArgument(quoted + ": only \":port\" may follow the host");
    }
    port = rest.empty() ? rest : rest.substr(1);
  } else {
    const size_t colon = authority.find(':');
    base.host = std::string(authority.substr(0, colon));
    port = colon == std::string_view::npos ? std::string_view() : authority.substr(colon + 1);
  }
  if (base.host.empty()) {
    return InvalidArgument(quoted + ": the host is empty");
  }
  if (port.empty()) {
    base.port = base.tls ? "443" : "80";
    return base;
  }
  int number = 0;
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (error != std::errc() || end != port.data() + port.size() || number < 1 || number > 65535) {
    return InvalidArgument(quoted + ": the port must be a number from 1 to 65535");
  }
  base.port = std::string(port);
  return base;
}

}  // namespace agentbudget::meter
