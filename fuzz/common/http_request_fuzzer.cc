// Feeds arbitrary bytes to the server's request path as a connection does: the parser with
// the server's limits, then ToRequest, the router and ToBeast. Any crash, sanitizer report
// or exception escaping is a bug; refused input is fine.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/write.hpp>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string_view>

#include "common/http_connection.h"

namespace {

namespace http = agentbudget::http;

const http::Router& Routes() {
  static const http::Router router = [] {
    http::Router r;
    r.Add("POST", "/mutate", [](const http::Request& q) {
      return http::Response::Json(200, {{"path", q.path}, {"body", q.body}});
    });
    r.Add("GET", "/healthz", [](const http::Request& q) {
      return http::Response::Text(200, q.Header("x-trace") + q.query);
    });
    return r;
  }();
  return router;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  http::ServerOptions options;
  options.max_header_bytes = 4096;
  options.max_body_bytes = 8192;
  http::RequestParser parser;
  http::LimitParser(parser, options);
  parser.eager(true);
  boost::system::error_code ec;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  while (!input.empty() && !parser.is_done()) {
    const size_t used = parser.put(boost::asio::buffer(input.data(), input.size()), ec);
    if (ec || used == 0) {
      break;
    }
    input.remove_prefix(used);
  }
  if (ec || !parser.is_done()) {
    return 0;
  }
  const bool keep_alive = parser.keep_alive();
  auto request = http::ToRequest(parser.release());
  if (!request.ok()) {
    return 0;
  }
  auto response = http::ToBeast(Routes().Dispatch(*request), keep_alive);
  std::ostringstream out;
  out << response;
  return 0;
}
