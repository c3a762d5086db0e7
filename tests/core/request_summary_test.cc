#include "core/request_summary.h"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace agentbudget::core {
namespace {

using nlohmann::json;

TEST(RequestSummaryTest, KeepsTheMembersTheMeterDecidesOnAndSkipsTheConversation) {
  const std::string body = R"({"model":"claude-x","max_tokens":64,"stream":true,)"
                           R"("messages":[{"role":"user","content":"say \"hi\"\n",)"
                           R"("model":"nested, not read"}],"system":{"model":"no"},)"
                           R"("stream_options":{"include_usage":true,"x":[1,{"y":null}]},)"
                           R"("max_completion_tokens":1e3,"max_output_tokens":-7})";
  auto summary = SummariseRequest(body);
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_EQ(*summary, json::parse(R"({"model":"claude-x","max_tokens":64,"stream":true,)"
                                  R"("stream_options":{"include_usage":true,"x":[1,{"y":null}]},)"
                                  R"("max_completion_tokens":1e3,"max_output_tokens":-7})"));
}

TEST(RequestSummaryTest, ReadsValuesAsTheParserWould) {
  // A container or a scalar of any type is kept as it is, for the rules to judge; a name
  // repeated outside the summary is no concern of it; a byte order mark is skipped.
  const std::string bodies[] = {
      R"({"messages":1,"messages":2,"model":"a","x":{"model":"b","model":"c"}})",
      R"({"model":["a"],"stream":"yes","max_tokens":18446744073709551615})",
      R"({"max_tokens":null,"stream_options":[],"max_output_tokens":{"n":1}})",
      "\xef\xbb\xbf{\"model\":\"m\"}",
      R"( {"model":"\u00e9t\u00e9"} )",
  };
  for (const std::string& body : bodies) {
    const json parsed = json::parse(body);
    json expected = json::object();
    for (const auto& [name, value] : parsed.items()) {
      if (IsSummaryMember(name)) {
        expected[name] = value;
      }
    }
    auto summary = SummariseRequest(body);
    ASSERT_TRUE(summary.ok()) << body;
    EXPECT_EQ(*summary, expected) << body;
  }
}

TEST(RequestSummaryTest, AddsAFirstMemberLeavingTheRestOfTheTextAsItWas) {
  const json options = {{"include_usage", true}};
  EXPECT_EQ(WithFirstMember(R"({"model":"m","messages":[]})", "stream_options", options),
            R"({"stream_options":{"include_usage":true},"model":"m","messages":[]})");
  EXPECT_EQ(WithFirstMember(" { } ", "stream_options", options),
            R"( {"stream_options":{"include_usage":true} } )");
  const std::string bom = "\xef\xbb\xbf\n{ \"a\\\"{\" : 1 }";
  const std::string added = WithFirstMember(bom, "n", 2);
  EXPECT_EQ(added, "\xef\xbb\xbf\n{\"n\":2, \"a\\\"{\" : 1 }");
  ASSERT_TRUE(SummariseRequest(added).ok());
  EXPECT_EQ(json::parse(added), json::parse(R"({"n":2,"a\"{":1})"));
}

TEST(RequestSummaryTest, RefusesAMemberItReadsNamedTwice) {
  for (const char* body : {R"({"model":"cheap","messages":[],"model":"dear"})",
                           R"({"model":"m","max_tokens":1,"max_tokens":{"a":2}})"}) {
    auto summary = SummariseRequest(body);
    ASSERT_FALSE(summary.ok()) << body;
    EXPECT_NE(summary.error().message.find("names \""), std::string::npos) << body;
    EXPECT_NE(summary.error().message.find("\" twice"), std::string::npos) << body;
  }
  EXPECT_EQ(SummariseRequest(R"({"model":"a","model":"b"})").error().message,
            "the request body names \"model\" twice");
}

TEST(RequestSummaryTest, RefusesWhatIsNotAJsonObjectNamingTheRule) {
  for (const char* body : {"", "{", R"({"model":"a",})", "nul", R"({"a":1}x)", "\"\\x\""}) {
    auto summary = SummariseRequest(body);
    ASSERT_FALSE(summary.ok()) << body;
    EXPECT_EQ(summary.error().message, "the request body is not JSON") << body;
  }
  for (const char* body : {"[]", "\"model\"", "7", "null"}) {
    auto summary = SummariseRequest(body);
    ASSERT_FALSE(summary.ok()) << body;
    EXPECT_EQ(summary.error().message, "the request body is not a JSON object") << body;
  }
}

}  // namespace
}  // namespace agentbudget::core
