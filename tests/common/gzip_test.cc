#include "common/gzip.h"

#include <gtest/gtest.h>

#include <string>

namespace agentbudget::gzip {
namespace {

std::string Text(size_t lines) {
  std::string text;
  for (size_t i = 0; i < lines; ++i) {
    text += R"({"k":"c","id":"r-)" + std::to_string(i) + R"(","model":"claude-sonnet-4-5"})" "\n";
  }
  return text;
}

TEST(GzipTest, RoundTripsAndShrinksRepetitiveText) {
  for (const std::string& text : {std::string(), std::string("x"), Text(5000)}) {
    const std::string compressed = Compress(text);
    ASSERT_GE(compressed.size(), 18u);  // the member's header and trailer
    EXPECT_EQ(compressed.substr(0, 2), "\x1f\x8b") << "gzip's magic bytes";
    auto decompressed = Decompress(compressed, text.size());
    ASSERT_TRUE(decompressed.ok()) << decompressed.error().message;
    EXPECT_EQ(*decompressed, text);
  }
  EXPECT_LT(Compress(Text(5000)).size(), Text(5000).size() / 8);
}

TEST(GzipTest, StopsAtTheBoundWithoutInflatingTheRest) {
  const std::string zeros(50 << 20, '\0');  // 50 MiB of zeros: about 50 KB gzipped
  const std::string bomb = Compress(zeros);
  auto refused = Decompress(bomb, 1 << 20);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(refused.error().message, "gzip: decompresses to more than 1048576 bytes");
  EXPECT_TRUE(Decompress(bomb, zeros.size()).ok());
}

TEST(GzipTest, RefusesWhatIsNotOneWholeGzipMember) {
  const std::string text = Text(100);
  const std::string compressed = Compress(text);
  auto message = [](std::string_view input) {
    auto decoded = Decompress(input, 1 << 20);
    return decoded.ok() ? std::string("accepted") : decoded.error().message;
  };
  EXPECT_EQ(message(text), "gzip: incorrect header check");
  EXPECT_EQ(message(""), "gzip: truncated");
  EXPECT_EQ(message(compressed.substr(0, compressed.size() - 4)), "gzip: truncated");
  EXPECT_EQ(message(compressed + "x"), "gzip: 1 bytes after the gzip member");
  std::string corrupt = compressed;
  corrupt[corrupt.size() - 8] ^= 1;  // the CRC-32 of the text
  EXPECT_EQ(message(corrupt), "gzip: incorrect data check");
  std::string longer = compressed;
  longer[longer.size() - 4] ^= 1;  // ISIZE, the text's length
  EXPECT_EQ(message(longer), "gzip: incorrect length check");
}

}  // namespace
}  // namespace agentbudget::gzip
