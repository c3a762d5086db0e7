#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace agentbudget::core {

// An amount of money as a signed integer count of micro-units (1e-6) of its currency.
// Never floating point. Arithmetic saturates at the int64 range instead of overflowing
// (about ±9.2e12 units, far beyond any budget). A value type; thread-compatible.
class Money {
 public:
  static constexpr int64_t kMicrosPerUnit = 1'000'000;

  constexpr Money() = default;
  static constexpr Money FromMicros(int64_t micros) { return Money(micros); }

  // Parses a decimal string such as "5000", "12.5", "0.000001" or "-3.25" (at most six
  // fractional digits; no exponent, no thousands separators, no surrounding spaces).
  // Fails with kInvalidArgument naming the problem, e.g. for "1e3", "1.0000001", "".
  static Result<Money> Parse(std::string_view text);

  constexpr int64_t micros() const { return micros_; }

  // Canonical decimal form without trailing fractional zeros: "5000", "12.5", "-0.000001".
  std::string ToString() const;

  // Decimal form with exactly `decimals` fractional digits (0..6), rounded half away from
  // zero: ToFixed(2) of 12.345 is "12.35". For display only.
  std::string ToFixed(int decimals) const;

  Money operator+(Money other) const;
  Money operator-(Money other) const;
  Money& operator+=(Money other) { return *this = *this + other; }
  Money& operator-=(Money other) { return *this = *this - other; }
  constexpr auto operator<=>(const Money&) const = default;

 private:
  constexpr explicit Money(int64_t micros) : micros_(micros) {}
  int64_t micros_ = 0;
};

// Saturating helpers on raw int64 counts, shared by money and token arithmetic.
int64_t SaturatingAdd(int64_t a, int64_t b);
int64_t SaturatingMultiply(int64_t a, int64_t b);

}  // namespace agentbudget::core
