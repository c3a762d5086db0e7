#include "operator/authority/compact_answer.h"

#include <cstdio>
#include <optional>
#include <string_view>

#include "core/money.h"

namespace agentbudget::authority {
namespace {

constexpr size_t kHexDigits = 32;

// The value of 16 lower-case hex digits; nullopt for anything else.
std::optional<uint64_t> Hex64(std::string_view digits) {
  uint64_t value = 0;
  for (char c : digits) {
    int digit = -1;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    }
    if (digit < 0) {
      return std::nullopt;
    }
    value = value << 4 | static_cast<uint64_t>(digit);
  }
  return value;
}

// Whether `rest` is a commit's or event's answer without its id, and if so its fields.
bool CommitShape(const nlohmann::json& rest, bool& has_cost, int64_t& cost_micros, bool& late) {
  if (rest.value("committed", false) != true) {
    return false;
  }
  size_t expected = 1;
  if (auto cost = rest.find("cost"); cost != rest.end()) {
    if (!cost->is_string()) {
      return false;
    }
    auto parsed = core::Money::Parse(cost->get_ref<const std::string&>());
    // Only a cost written in canonical form comes back the same from its micros.
    if (!parsed.ok() || parsed->ToString() != cost->get_ref<const std::string&>()) {
      return false;
    }
    has_cost = true;
    cost_micros = parsed->micros();
    ++expected;
  }
  if (auto flag = rest.find("late"); flag != rest.end()) {
    if (*flag != true) {
      return false;
    }
    late = true;
    ++expected;
  }
  return rest.size() == expected;
}

}  // namespace

CompactAnswer::CompactAnswer(const nlohmann::json& answer) {
  nlohmann::json rest = answer;
  if (auto id = rest.find("id"); rest.is_object() && id != rest.end() && id->is_string()) {
    const std::string& text = id->get_ref<const std::string&>();
    if (text.size() == 2 + kHexDigits && (text[0] == 'r' || text[0] == 'e') && text[1] == '-') {
      auto high = Hex64(std::string_view(text).substr(2, 16));
      auto low = Hex64(std::string_view(text).substr(18, 16));
      if (high && low) {
        id_prefix_ = text[0];
        id_high_ = *high;
        id_low_ = *low;
        rest.erase("id");
      }
    }
  }
  if (rest.is_object() && CommitShape(rest, has_cost_, cost_micros_, late_)) {
    committed_ = true;
    return;
  }
  has_cost_ = false;
  cost_micros_ = 0;
  late_ = false;
  text_ = rest.dump();
}

nlohmann::json CompactAnswer::ToJson() const {
  nlohmann::json answer;
  if (committed_) {
    answer = {{"committed", true}};
    if (has_cost_) {
      answer["cost"] = core::Money::FromMicros(cost_micros_).ToString();
    }
    if (late_) {
      answer["late"] = true;
    }
  } else {
    answer = nlohmann::json::parse(text_);
  }
  if (id_prefix_ != 0) {
    char id[2 + kHexDigits + 1];
    std::snprintf(id, sizeof(id), "%c-%016llx%016llx", id_prefix_,
                  static_cast<unsigned long long>(id_high_),
                  static_cast<unsigned long long>(id_low_));
    answer["id"] = id;
  }
  return answer;
}

}  // namespace agentbudget::authority
