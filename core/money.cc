#include "core/money.h"

#include <cstdlib>
#include <limits>

namespace agentbudget::core {
namespace {

constexpr int kFractionDigits = 6;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

Error ParseError(std::string_view text, std::string_view why) {
  return InvalidArgument("invalid amount \"" + std::string(text) + "\": " + std::string(why));
}

}  // namespace

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) {
    return b > 0 ? kMax : kMin;
  }
  return out;
}

int64_t SaturatingMultiply(int64_t a, int64_t b) {
  int64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out)) {
    return (a > 0) == (b > 0) ? kMax : kMin;
  }
  return out;
}

Result<Money> Money::Parse(std::string_view text) {
  if (text.empty()) {
    return ParseError(text, "empty");
  }
  std::string_view rest = text;
  const bool negative = rest.front() == '-';
  if (negative || rest.front() == '+') {
    rest.remove_prefix(1);
  }
  const size_t dot = rest.find('.');
  const std::string_view whole = rest.substr(0, dot);
  const std::string_view fraction =
      dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
  if (whole.empty() && fraction.empty()) {
    return ParseError(text, "no digits");
  }
  if (dot != std::string_view::npos && fraction.empty()) {
    return ParseError(text, "no digits after the decimal point");
  }
  if (fraction.size() > kFractionDigits) {
    return ParseError(text, "more than 6 fractional digits");
  }
  int64_t micros = 0;
  for (char c : whole) {
    if (c < '0' || c > '9') {
      return ParseError(text, "not a plain decimal number");
    }
    if (__builtin_mul_overflow(micros, 10, &micros) ||
        __builtin_add_overflow(micros, c - '0', &micros)) {
      return ParseError(text, "too large");
    }
  }
  if (__builtin_mul_overflow(micros, kMicrosPerUnit, &micros)) {
    return ParseError(text, "too large");
  }
  int64_t scale = kMicrosPerUnit / 10;
  for (char c : fraction) {
    if (c < '0' || c > '9') {
      return ParseError(text, "not a plain decimal number");
    }
    if (__builtin_add_overflow(micros, (c - '0') * scale, &micros)) {
      return ParseError(text, "too large");
    }
    scale /= 10;
  }
  return Money(negative ? -micros : micros);
}

std::string Money::ToString() const {
  // Work in unsigned space so that the minimum value negates safely.
  const bool negative = micros_ < 0;
  const uint64_t magnitude =
      negative ? uint64_t{0} - static_cast<uint64_t>(micros_) : static_cast<uint64_t>(micros_);
  std::string out = negative ? "-" : "";
  out += std::to_string(magnitude / kMicrosPerUnit);
  uint64_t fraction = magnitude % kMicrosPerUnit;
  if (fraction != 0) {
    std::string digits = std::to_string(fraction);
    digits.insert(0, kFractionDigits - digits.size(), '0');
    while (digits.back() == '0') {
      digits.pop_back();
    }
    out += "." + digits;
  }
  return out;
}

std::string Money::ToFixed(int decimals) const {
  if (decimals < 0) {
    decimals = 0;
  }
  if (decimals > kFractionDigits) {
    decimals = kFractionDigits;
  }
  int64_t unit = 1;
  for (int i = decimals; i < kFractionDigits; ++i) {
    unit *= 10;
  }
  const bool negative = micros_ < 0;
  uint64_t magnitude =
      negative ? uint64_t{0} - static_cast<uint64_t>(micros_) : static_cast<uint64_t>(micros_);
  magnitude = (magnitude + static_cast<uint64_t>(unit) / 2) / static_cast<uint64_t>(unit);
  const uint64_t per_unit = static_cast<uint64_t>(kMicrosPerUnit / unit);
  std::string out = negative && magnitude != 0 ? "-" : "";
  out += std::to_string(magnitude / per_unit);
  if (decimals > 0) {
    std::string digits = std::to_string(magnitude % per_unit);
    digits.insert(0, static_cast<size_t>(decimals) - digits.size(), '0');
    out += "." + digits;
  }
  return out;
}

Money Money::operator+(Money other) const { return Money(SaturatingAdd(micros_, other.micros_)); }

Money Money::operator-(Money other) const {
  if (other.micros_ == kMin) {
    return Money(micros_ >= 0 ? kMax : SaturatingAdd(micros_ + 1, kMax));
  }
  return Money(SaturatingAdd(micros_, -other.micros_));
}

}  // namespace agentbudget::core
