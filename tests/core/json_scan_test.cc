#include "core/json_scan.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/core/json_trace.h"

#include <string>
#include <vector>

namespace agentbudget::core {
namespace {

using nlohmann::json;

void ExpectAsNlohmann(const std::string& text) {
  JsonTrace scanned;
  const bool accepted = ScanJson(text, scanned);
  ReferenceTrace reference;
  const bool reference_accepted = json::sax_parse(text, &reference);
  ASSERT_EQ(accepted, reference_accepted) << text;
  if (accepted) {
    EXPECT_EQ(scanned.text(), reference.trace.text()) << text;
  }
}

TEST(JsonScanTest, ReportsWhatNlohmannReportsForValidTexts) {
  for (const std::string& text : std::vector<std::string>{
           R"({})", R"([])", R"( {"a" : [1, -2.5e+3, true, false, null, "x"], "b": {}} )",
           R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}})",
           R"("\" \\ \/ \b \f \n \r \t \u0041 \u00e9 \u20ac \ud83d\ude00 \u0000")",
           "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x7f\"", R"(0)", R"(-0.0e-0)",
           R"(1e-400)", R"(18446744073709551616)", R"([[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]])",
           std::string(20, '[') + R"({"deep":{"a":{"b":{"c":{}}}}})" + std::string(20, ']'),
           "\t\r\n [ ] \n", std::string("{} \0 ignored", 12)}) {
    ExpectAsNlohmann(text);
  }
}

TEST(JsonScanTest, RefusesWhatNlohmannRefuses) {
  for (const std::string& text : std::vector<std::string>{
           "", " ", "{", "}", "[1,]", R"({"a":1,})", R"({"a" 1})", R"({a:1})", R"({"a":1}})",
           R"({"a":1} x)", R"([1 2])", "01", "-", "1.", ".5", "1e", "+1", "1e400", "-1e400",
           "tru", "nul", "True", R"("\x")", R"("\u12")", R"("\ud800")", R"("\udc00")",
           R"("\ud800\u0041")", "\"a\nb\"", "\"\x01\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
           "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\"", "\"\x80\"", "\"\xff\"", R"("abc)",
           "[1] // comment", "/* c */ 1", std::string("{\"a\":\0}", 7),
           std::string(400, '1') + "e10"}) {
    ExpectAsNlohmann(text);
  }
}

TEST(JsonScanTest, ReportsContainerOffsetsAndLiteralsForReadingThemAgain) {
  struct Offsets : JsonTrace {
    bool StartObject(size_t begin) override { return Add("{", std::to_string(begin)); }
    bool EndObject(size_t end) override { return Add("}", std::to_string(end)); }
    bool StartArray(size_t begin) override { return Add("[", std::to_string(begin)); }
    bool EndArray(size_t end) override { return Add("]", std::to_string(end)); }
    bool Scalar(std::string_view literal) override { return Add("v", literal); }
  } offsets;
  ASSERT_TRUE(ScanJson(R"({"u": {"n": -1.5e3}, "a": [true, null, 0] })", offsets));
  EXPECT_EQ(offsets.text(),
            "{1:0k1:u{1:6k1:nv6:-1.5e3}2:19k1:a[2:26v4:truev4:nullv1:0]2:41}2:43");
}

TEST(JsonScanTest, ChecksStringsItDoesNotDecodeAsStrictly) {
  struct Skipping : JsonTrace {
    bool WantsNextString() override { return false; }
  };
  Skipping valid;
  ASSERT_TRUE(ScanJson(R"({"a\n": ["x\"y", "\u00e9", "plain"]})", valid));
  EXPECT_EQ(valid.text(), "{0:k0:[0:s0:s0:s0:]0:}0:");
  for (const char* text : {R"(["\x"])", R"(["\ud800"])", "[\"\x01\"]", "[\"\xc3\"]"}) {
    Skipping invalid;
    EXPECT_FALSE(ScanJson(text, invalid)) << text;
  }
}

TEST(JsonScanTest, StopsWhenTheHandlerSaysSo) {
  struct Stop : JsonTrace {
    bool Key(std::string_view) override { return false; }
  } stop;
  EXPECT_FALSE(ScanJson(R"({"a":1})", stop));
  EXPECT_EQ(stop.text(), "{0:");
}

}  // namespace
}  // namespace agentbudget::core
