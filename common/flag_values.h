#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "core/money.h"

// Strict parsers for the values of command-line flags, configuration files and environment
// variables. Each fails with kInvalidArgument stating the rule the text breaks, quoting it
// (`port "80x" is not a number in 0..65535`), without a flag name: common/flags.h prefixes
// the flag. Stateless and thread-safe.
namespace agentbudget::flags {

// A port, or a port with 0 meaning "any free port" where binding one is meaningful.
enum class PortRule { kAllowZero, kNonZero };

// A TCP address to listen on: HOST:PORT, HOST being a name, an IPv4 address or a bracketed
// IPv6 address ("[::]:8443"). A value type.
struct ListenAddress {
  std::string host;  // without brackets
  uint16_t port = 0;

  // HOST:PORT again, IPv6 hosts in brackets.
  std::string ToString() const;
  bool operator==(const ListenAddress&) const = default;
};

// A decimal port: 1..65535, or 0..65535 under kAllowZero. No sign, spaces or leading "+".
Result<uint16_t> ParsePort(std::string_view text, PortRule rule);

// HOST:PORT; the host must not be empty and the port must satisfy `rule`.
Result<ListenAddress> ParseListenAddress(std::string_view text, PortRule rule);

// A decimal integer in [min, max]: digits with an optional leading "-", nothing else.
Result<int64_t> ParseInt(std::string_view text, int64_t min, int64_t max);

// Exactly "true" or "false".
Result<bool> ParseBool(std::string_view text);

// A positive duration: a bare integer counts `unit`s ("200" with a unit of milliseconds is
// 200 ms); an integer with a suffix ms, s, m or h states its own unit ("2s"). The result
// must be a whole number of `unit`s.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text,
                                                std::chrono::milliseconds unit);

// A non-negative decimal amount in USD ("2.50", "0.000001"), as core::Money::Parse.
Result<core::Money> ParseMoney(std::string_view text);

// Comma-separated items, each trimmed of spaces; empty items are dropped ("a, b,," is
// {"a", "b"}). Never fails.
std::vector<std::string> SplitList(std::string_view text);

}  // namespace agentbudget::flags
