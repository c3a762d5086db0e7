#include "common/base64.h"

#include <climits>

#include <openssl/evp.h>

namespace agentbudget::base64 {
namespace {

bool InAlphabet(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '+' || c == '/';
}

// Checks what EVP_DecodeBlock does not: it skips leading and trailing whitespace, accepts
// "=" in the middle of a block and reports padding as zero bytes.
Status CheckShape(std::string_view text, size_t& padding) {
  if (text.size() > INT_MAX / 4 * 3) {
    return InvalidArgument("base64: input too long");
  }
  if (text.size() % 4 != 0) {
    return InvalidArgument("base64: length " + std::to_string(text.size()) +
                           " is not a multiple of 4");
  }
  padding = 0;
  while (padding < text.size() && padding < 3 && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  if (padding > 2) {
    return InvalidArgument("base64: more than two padding characters");
  }
  for (size_t i = 0; i < text.size() - padding; ++i) {
    if (!InAlphabet(text[i])) {
      return InvalidArgument(
          "base64: " +
          std::string(text[i] == '=' ? "padding before the end" : "invalid character") +
          " at offset " + std::to_string(i));
    }
  }
  return OkStatus();
}

}  // namespace

std::string Encode(std::string_view data) {
  // EVP_EncodeBlock writes a terminating NUL after the 4 * ceil(n / 3) characters.
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(data.data()),
                                     static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(length));
  return out;
}

Result<std::string> Decode(std::string_view text) {
  size_t padding = 0;
  if (Status shape = CheckShape(text, padding); !shape.ok()) {
    return std::move(shape).error();
  }
  if (text.empty()) {
    return std::string();
  }
  std::string out(text.size() / 4 * 3, '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(text.data()),
                                     static_cast<int>(text.size()));
  if (length < 0 || static_cast<size_t>(length) != out.size()) {
    return InvalidArgument("base64: not decodable");
  }
  // EVP_DecodeBlock counts each padding character as a zero byte.
  out.resize(out.size() - padding);
  return out;
}

}  // namespace agentbudget::base64
