#include "common/http_request_target.h"

namespace agentbudget::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<RequestTarget> ParseRequestTarget(std::string_view target) {
  if (target.empty() || target.front() != '/') {
    return InvalidArgument("the request target must be a path starting with '/'");
  }
  const size_t question = target.find('?');
  const std::string_view raw_path = target.substr(0, question);
  RequestTarget out;
  if (question != std::string_view::npos) {
    out.query = std::string(target.substr(question + 1));
  }
  out.path.reserve(raw_path.size());
  for (size_t i = 0; i < raw_path.size(); ++i) {
    if (raw_path[i] != '%') {
      out.path += raw_path[i];
      continue;
    }
    const int high = i + 2 < raw_path.size() ? HexValue(raw_path[i + 1]) : -1;
    const int low = high >= 0 ? HexValue(raw_path[i + 2]) : -1;
    if (low < 0) {
      return InvalidArgument("a '%' in the request path must be followed by two hex digits");
    }
    const char decoded = static_cast<char>(high * 16 + low);
    if (decoded == '\0') {
      return InvalidArgument("the request path must not encode a NUL byte");
    }
    out.path += decoded;
    i += 2;
  }
  return out;
}

}  // namespace agentbudget::http
