#include "common/flag_values.h"

#include <charconv>
#include <limits>
#include <utility>

namespace agentbudget::flags {
namespace {

std::string Quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

// Digits with an optional leading "-"; from_chars alone would also take "-0" partially.
bool IsInteger(std::string_view text) {
  const size_t start = !text.empty() && text[0] == '-' ? 1 : 0;
  if (text.size() == start) {
    return false;
  }
  for (size_t i = start; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string ListenAddress::ToString() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<int64_t> ParseInt(std::string_view text, int64_t min, int64_t max) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  if (IsInteger(text)) {
    const auto [stop, ec] = std::from_chars(text.data(), end, value);
    if (ec == std::errc() && stop == end && value >= min && value <= max) {
      return value;
    }
  }
  std::string range;
  if (min == 1 && max == std::numeric_limits<int64_t>::max()) {
    range = "a positive integer";
  } else if (min == 0 && max == std::numeric_limits<int64_t>::max()) {
    range = "a non-negative integer";
  } else {
    range = "an integer in " + std::to_string(min) + ".." + std::to_string(max);
  }
  return InvalidArgument(Quote(text) + " is not " + range);
}

Result<uint16_t> ParsePort(std::string_view text, PortRule rule) {
  const int64_t min = rule == PortRule::kAllowZero ? 0 : 1;
  auto port = ParseInt(text, min, 65535);
  if (!port.ok() || (!text.empty() && text[0] == '-')) {
    return InvalidArgument("port " + Quote(text) + " is not a number in " +
                           std::to_string(min) + "..65535");
  }
  return static_cast<uint16_t>(*port);
}

Result<ListenAddress> ParseListenAddress(std::string_view text, PortRule rule) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return InvalidArgument(Quote(text) + " is not HOST:PORT");
  }
  std::string_view host = text.substr(0, colon);
  if (host.front() == '[' || host.back() == ']') {
    if (host.size() < 3 || host.front() != '[' || host.back() != ']') {
      return InvalidArgument(Quote(text) + " is not HOST:PORT (IPv6 hosts go in brackets)");
    }
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return InvalidArgument(Quote(text) + " is not HOST:PORT (IPv6 hosts go in brackets)");
  }
  auto port = ParsePort(text.substr(colon + 1), rule);
  if (!port.ok()) {
    return std::move(port).error();
  }
  return ListenAddress{std::string(host), *port};
}

Result<bool> ParseBool(std::string_view text) {
  if (text == "true") {
    return true;
  }
  if (text == "false") {
    return false;
  }
  return InvalidArgument(Quote(text) + " is neither true nor false");
}

Result<std::chrono::milliseconds> ParseDuration(std::string_view text,
                                                std::chrono::milliseconds unit) {
  using std::chrono::milliseconds;
  static constexpr std::pair<std::string_view, milliseconds> kSuffixes[] = {
      {"ms", milliseconds{1}},
      {"s", std::chrono::seconds{1}},
      {"m", std::chrono::minutes{1}},
      {"h", std::chrono::hours{1}},
  };
  std::string_view number = text;
  milliseconds scale = unit;
  for (const auto& [suffix, length] : kSuffixes) {
    if (text.size() > suffix.size() && text.ends_with(suffix) &&
        text[text.size() - suffix.size() - 1] >= '0' &&
        text[text.size() - suffix.size() - 1] <= '9') {
      number = text.substr(0, text.size() - suffix.size());
      scale = length;
      break;
    }
  }
  auto count = ParseInt(number, 1, std::numeric_limits<int64_t>::max() / scale.count());
  if (!count.ok()) {
    return InvalidArgument(Quote(text) +
                           " is not a positive duration (a whole number, or one with a unit "
                           "ms, s, m or h)");
  }
  const milliseconds duration = *count * scale;
  if (duration % unit != milliseconds::zero()) {
    return InvalidArgument(Quote(text) + " is not a whole number of " +
                           (unit == std::chrono::seconds{1} ? std::string("seconds")
                                                            : std::to_string(unit.count()) +
                                                                  " ms units"));
  }
  return duration;
}

Result<core::Money> ParseMoney(std::string_view text) {
  auto money = core::Money::Parse(text);
  if (!money.ok()) {
    return std::move(money).error();
  }
  if (money->micros() < 0) {
    return InvalidArgument(Quote(text) + " is negative; give a decimal amount in USD");
  }
  return *money;
}

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    std::string_view item = text.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') {
      item.remove_prefix(1);
    }
    while (!item.empty() && item.back() == ' ') {
      item.remove_suffix(1);
    }
    if (!item.empty()) {
      items.emplace_back(item);
    }
    start = comma + 1;
  }
  return items;
}

}  // namespace agentbudget::flags
