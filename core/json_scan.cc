#include "core/json_scan.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace agentbudget::core {
namespace {

class Scanner {
 public:
  Scanner(std::string_view text, JsonHandler& handler) : text_(text), handler_(handler) {}

  bool Scan() {
    // The containers open around the current position, innermost last ('{' or '[').
    std::string open;
    bool expect_value = true;  // else: a value just ended
    while (true) {
      SkipWhitespace();
      if (expect_value) {
        if (pos_ == text_.size()) {
          return false;
        }
        switch (text_[pos_]) {
          case '{':
            if (!handler_.StartObject(pos_)) {
              return false;
            }
            ++pos_;
            SkipWhitespace();
            if (pos_ < text_.size() && text_[pos_] == '}') {
              ++pos_;
              if (!handler_.EndObject(pos_)) {
                return false;
              }
              break;
            }
            open.push_back('{');
            if (!ReadKey()) {
              return false;
            }
            continue;
          case '[':
            if (!handler_.StartArray(pos_)) {
              return false;
            }
            ++pos_;
            SkipWhitespace();
            if (pos_ < text_.size() && text_[pos_] == ']') {
              ++pos_;
              if (!handler_.EndArray(pos_)) {
                return false;
              }
              break;
            }
            open.push_back('[');
            continue;
          case '"': {
            std::string_view value;
            if (!ReadString(value) || !handler_.String(value)) {
              return false;
            }
            break;
          }
          case 't':
          case 'f':
          case 'n': {
            const std::string_view literal = text_[pos_] == 't'   ? "true"
                                             : text_[pos_] == 'f' ? "false"
                                                                  : "null";
            if (!ReadLiteral(literal) || !handler_.Scalar(literal)) {
              return false;
            }
            break;
          }
          default: {
            const size_t begin = pos_;
            if (!ReadNumber() || !handler_.Scalar(text_.substr(begin, pos_ - begin))) {
              return false;
            }
            break;
          }
        }
        expect_value = false;
        continue;
      }
      // After a value: the end of the text, a separator or the end of a container.
      if (open.empty()) {
        // nlohmann::json takes a NUL byte outside strings for the end of the text.
        return pos_ == text_.size() || text_[pos_] == '\0';
      }
      if (pos_ == text_.size()) {
        return false;
      }
      const char c = text_[pos_++];
      if (c == ',') {
        expect_value = true;
        if (open.back() == '{' && !ReadKey()) {
          return false;
        }
      } else if (c == '}' && open.back() == '{') {
        open.pop_back();
        if (!handler_.EndObject(pos_)) {
          return false;
        }
      } else if (c == ']' && open.back() == '[') {
        open.pop_back();
        if (!handler_.EndArray(pos_)) {
          return false;
        }
      } else {
        return false;
      }
    }
  }

 private:
  void SkipWhitespace() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
        return;
      }
      ++pos_;
    }
  }

  // A member's name and its colon; the value is read next.
  bool ReadKey() {
    SkipWhitespace();
    std::string_view name;
    if (pos_ == text_.size() || text_[pos_] != '"' || !ReadString(name) ||
        !handler_.Key(name)) {
      return false;
    }
    SkipWhitespace();
    if (pos_ == text_.size() || text_[pos_] != ':') {
      return false;
    }
    ++pos_;
    return true;
  }

  bool ReadLiteral(std::string_view literal) {
    if (text_.substr(pos_, literal.size()) != literal) {
      return false;
    }
    pos_ += literal.size();
    return true;
  }

  // REQUIRES: text_[pos_] is the opening quote. `value` is empty when the handler does not
  // want the string, else a view of the text when it holds no escape, else of decoded_.
  bool ReadString(std::string_view& value) {
    const size_t begin = ++pos_;
    const bool wanted = handler_.WantsNextString();
    bool escaped = false;  // and wanted: decoded_ holds the string so far
    while (pos_ < text_.size()) {
      // Plain ASCII, the bulk of most strings, in a tight loop.
      const size_t plain = pos_;
      pos_ = PlainEnd(pos_);
      if (escaped) {
        decoded_.append(text_.substr(plain, pos_ - plain));
      }
      if (pos_ == text_.size()) {
        break;
      }
      const auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        value = escaped  ? std::string_view(decoded_)
                : wanted ? text_.substr(begin, pos_ - begin)
                         : std::string_view();
        ++pos_;
        return true;
      }
      if (c < 0x20) {
        return false;
      }
      if (c == '\\') {
        if (wanted && !escaped) {
          decoded_.assign(text_.substr(begin, pos_ - begin));
          escaped = true;
        }
        if (!ReadEscape(escaped)) {
          return false;
        }
        continue;
      }
      const size_t size = Utf8Size();
      if (size == 0) {
        return false;
      }
      if (escaped) {
        decoded_.append(text_.substr(pos_, size));
      }
      pos_ += size;
    }
    return false;
  }

  // An ASCII character that stands for itself in a string.
  static bool IsPlain(unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

  // The end of the run of plain characters from `from`, eight bytes at a time: a word's
  // special bytes (below 0x20, from 0x80, a quote, a backslash) are flagged by their high
  // bit; flags above the first special byte may be spurious, but its own is exact, so the
  // lowest flag ends the run (on little-endian machines; others go on byte by byte).
  size_t PlainEnd(size_t from) const {
    constexpr uint64_t kOnes = 0x0101010101010101;
    constexpr uint64_t kHighs = 0x8080808080808080;
    const auto below = [](uint64_t word, uint64_t n) {
      return (word - kOnes * n) & ~word & kHighs;
    };
    while (from + sizeof(uint64_t) <= text_.size()) {
      uint64_t word;
      std::memcpy(&word, text_.data() + from, sizeof(word));
      const uint64_t special = below(word, 0x20) | (word & kHighs) |
                               below(word ^ (kOnes * '"'), 1) | below(word ^ (kOnes * '\\'), 1);
      if (special != 0) {
        if constexpr (std::endian::native == std::endian::little) {
          return from + std::countr_zero(special) / 8;
        }
        break;
      }
      from += sizeof(uint64_t);
    }
    while (from < text_.size() && IsPlain(static_cast<unsigned char>(text_[from]))) {
      ++from;
    }
    return from;
  }

  // The size of the UTF-8 sequence at pos_ (whose first byte is not ASCII), or 0 when it is
  // not well-formed (RFC 3629: no overlong forms, surrogates or code points past U+10FFFF).
  size_t Utf8Size() const {
    const auto at = [&](size_t i) -> unsigned {
      return pos_ + i < text_.size() ? static_cast<unsigned char>(text_[pos_ + i]) : 0;
    };
    const auto in = [](unsigned byte, unsigned low, unsigned high) {
      return byte >= low && byte <= high;
    };
    const unsigned first = at(0);
    if (in(first, 0xC2, 0xDF)) {
      return in(at(1), 0x80, 0xBF) ? 2 : 0;
    }
    if (in(first, 0xE0, 0xEF)) {
      const unsigned low = first == 0xE0 ? 0xA0 : 0x80;
      const unsigned high = first == 0xED ? 0x9F : 0xBF;
      return in(at(1), low, high) && in(at(2), 0x80, 0xBF) ? 3 : 0;
    }
    if (in(first, 0xF0, 0xF4)) {
      const unsigned low = first == 0xF0 ? 0x90 : 0x80;
      const unsigned high = first == 0xF4 ? 0x8F : 0xBF;
      return in(at(1), low, high) && in(at(2), 0x80, 0xBF) && in(at(3), 0x80, 0xBF) ? 4 : 0;
    }
    return 0;
  }

  // REQUIRES: text_[pos_] is a backslash. Appends the character it stands for to decoded_
  // when `keep`.
  bool ReadEscape(bool keep) {
    if (pos_ + 1 >= text_.size()) {
      return false;
    }
    const char c = text_[pos_ + 1];
    pos_ += 2;
    // Each one-character escape, followed by the character it stands for.
    static constexpr std::string_view kEscapes = "\"\"\\\\//b\bf\fn\nr\rt\t";
    for (size_t i = 0; i < kEscapes.size(); i += 2) {
      if (kEscapes[i] == c) {
        if (keep) {
          decoded_.push_back(kEscapes[i + 1]);
        }
        return true;
      }
    }
    if (c != 'u') {
      return false;
    }
    int code = ReadHex4();
    if (code < 0 || (code >= 0xDC00 && code <= 0xDFFF)) {
      return false;  // a low surrogate must follow a high one
    }
    if (code >= 0xD800 && code <= 0xDBFF) {
      if (text_.substr(pos_, 2) != "\\u") {
        return false;
      }
      pos_ += 2;
      const int low = ReadHex4();
      if (low < 0xDC00 || low > 0xDFFF) {
        return false;
      }
      code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
    }
    if (keep) {
      AppendUtf8(code);
    }
    return true;
  }

  // Four hex digits at pos_ as a number, or -1.
  int ReadHex4() {
    if (pos_ + 4 > text_.size()) {
      return -1;
    }
    int value = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_ + i];
      const int digit = c >= '0' && c <= '9'   ? c - '0'
                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                               : -1;
      if (digit < 0) {
        return -1;
      }
      value = value * 16 + digit;
    }
    pos_ += 4;
    return value;
  }

  void AppendUtf8(int code) {
    if (code < 0x80) {
      decoded_.push_back(static_cast<char>(code));
      return;
    }
    // A lead byte with the top bits, then six bits in each continuation byte.
    const int continuations = code < 0x800 ? 1 : code < 0x10000 ? 2 : 3;
    static constexpr int kLead[] = {0, 0xC0, 0xE0, 0xF0};
    decoded_.push_back(static_cast<char>(kLead[continuations] | (code >> (6 * continuations))));
    for (int shift = 6 * (continuations - 1); shift >= 0; shift -= 6) {
      decoded_.push_back(static_cast<char>(0x80 | ((code >> shift) & 0x3F)));
    }
  }

  // -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?, finite as a double.
  bool ReadNumber() {
    const size_t begin = pos_;
    const auto digit = [&] {
      return pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9';
    };
    const auto digits = [&] {
      if (!digit()) {
        return false;
      }
      while (digit()) {
        ++pos_;
      }
      return true;
    };
    if (pos_ < text_.size() && text_[pos_] == '-') {
      ++pos_;
    }
    if (pos_ < text_.size() && text_[pos_] == '0') {
      ++pos_;
    } else if (!digits()) {
      return false;
    }
    bool integer = true;
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      integer = false;
      if (!digits()) {
        return false;
      }
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      integer = false;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) {
        ++pos_;
      }
      if (!digits()) {
        return false;
      }
    }
    // An integer of up to 300 digits is finite as a double; nlohmann::json refuses numbers
    // that overflow one.
    if (integer && pos_ - begin <= 300) {
      return true;
    }
    // strtod wants the number terminated: copied, on the stack when it is short.
    const std::string_view number = text_.substr(begin, pos_ - begin);
    char buffer[64];
    std::string long_number;
    const char* terminated = buffer;
    if (number.size() < sizeof(buffer)) {
      number.copy(buffer, number.size());
      buffer[number.size()] = '\0';
    } else {
      long_number.assign(number);
      terminated = long_number.c_str();
    }
    return std::isfinite(std::strtod(terminated, nullptr));
  }

  const std::string_view text_;
  JsonHandler& handler_;
  size_t pos_ = 0;
  std::string decoded_;  // the string being read, when it holds escapes
};

}  // namespace

bool ScanJson(std::string_view text, JsonHandler& handler) {
  return Scanner(text, handler).Scan();
}

}  // namespace agentbudget::core
