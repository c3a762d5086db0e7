#include "common/base64.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace agentbudget::base64 {
namespace {

// RFC 4648 §10.
const std::pair<const char*, const char*> kVectors[] = {
    {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

TEST(Base64Test, EncodesTheRfc4648Vectors) {
  for (const auto& [plain, encoded] : kVectors) {
    EXPECT_EQ(Encode(plain), encoded) << plain;
  }
}

TEST(Base64Test, DecodesTheRfc4648Vectors) {
  for (const auto& [plain, encoded] : kVectors) {
    auto decoded = Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << encoded << ": " << decoded.error().message;
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(Base64Test, RoundTripsEveryByteAtEveryLength) {
  std::string data;
  for (int i = 0; i < 300; ++i) {
    data += static_cast<char>(i * 7 + 3);
    auto decoded = Decode(Encode(data));
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    ASSERT_EQ(*decoded, data) << "length " << data.size();
  }
}

TEST(Base64Test, UsesTheStandardAlphabet) {
  EXPECT_EQ(Encode("\xfb\xff\xbf"), "+/+/");
  auto decoded = Decode("+/+/");
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, "\xfb\xff\xbf");
}

TEST(Base64Test, RejectsMalformedInputNamingTheProblem) {
  const std::pair<const char*, const char*> cases[] = {
      {"Zg", "not a multiple of 4"},
      {"Zm9vY", "not a multiple of 4"},
      {"Zg=", "not a multiple of 4"},
      {"Z===", "more than two padding"},
      {"====", "more than two padding"},
      {"Zg==Zg==", "padding before the end"},
      {"Z=g=", "padding before the end"},
      {"Zm9-", "invalid character"},
      {"Zm9_", "invalid character"},
      {"Zm9v\nYmFy", "not a multiple of 4"},
      {" Zm9vYmFy ", "not a multiple of 4"},
      {"Zm9 Ym==", "invalid character at offset 3"},
      {"Zm9v\r\nAA", "invalid character at offset 4"},
  };
  for (const auto& [text, expected] : cases) {
    auto decoded = Decode(text);
    ASSERT_FALSE(decoded.ok()) << text;
    EXPECT_EQ(decoded.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(decoded.error().message.find(expected), std::string::npos)
        << text << ": " << decoded.error().message;
  }
}

TEST(Base64Test, DecodesBytesThatAreNotText) {
  auto decoded = Decode("AAD/");
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, std::string("\0\0\xff", 3));
}

}  // namespace
}  // namespace agentbudget::base64
