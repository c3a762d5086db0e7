#include "core/sse_parser.h"

#include <gtest/gtest.h>

#include <vector>

namespace agentbudget::core {
namespace {

std::vector<SseEvent> FeedAll(SseParser& parser, std::string_view bytes) {
  std::vector<SseEvent> events;
  EXPECT_TRUE(parser.Feed(bytes, [&](SseEvent&& e) { events.push_back(std::move(e)); }).ok());
  return events;
}

TEST(SseParserTest, ParsesEventAndDataFieldsAndKeepsTheRawBytes) {
  SseParser parser;
  const std::string block = "event: message_start\ndata: {\"a\":1}\n\n";
  auto events = FeedAll(parser, block);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event, "message_start");
  EXPECT_EQ(events[0].data, "{\"a\":1}");
  EXPECT_EQ(events[0].raw, block);
  EXPECT_FALSE(parser.HasPartialEvent());
}

TEST(SseParserTest, JoinsMultipleDataLinesWithNewlines) {
  SseParser parser;
  auto events = FeedAll(parser, "data: one\ndata:two\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "one\ntwo");
}

TEST(SseParserTest, AcceptsCrlfAndBareCrLineEndings) {
  SseParser parser;
  auto events = FeedAll(parser, "data: a\r\n\r\ndata: b\r\rdata: c\n\n");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].data, "a");
  EXPECT_EQ(events[0].raw, "data: a\r\n\r\n");
  EXPECT_EQ(events[1].data, "b");
  EXPECT_EQ(events[2].data, "c");
}

TEST(SseParserTest, ReassemblesEventsSplitAtEveryByte) {
  const std::string stream = "event: x\r\ndata: {\"k\": \"v\"}\r\n\r\n: ping\n\ndata: [DONE]\n\n";
  SseParser parser;
  std::vector<SseEvent> events;
  for (char c : stream) {
    ASSERT_TRUE(parser.Feed(std::string_view(&c, 1),
                            [&](SseEvent&& e) { events.push_back(std::move(e)); })
                    .ok());
  }
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].event, "x");
  EXPECT_EQ(events[0].data, "{\"k\": \"v\"}");
  EXPECT_EQ(events[1].raw, ": ping\n\n");
  EXPECT_EQ(events[1].data, "");
  EXPECT_EQ(events[2].data, "[DONE]");
  std::string joined;
  for (const auto& e : events) {
    joined += e.raw;
  }
  EXPECT_EQ(joined, stream);
}

TEST(SseParserTest, ReportsAnUnfinishedEventAtTheEndOfTheStream) {
  SseParser parser;
  auto events = FeedAll(parser, "data: complete\n\ndata: cut off");
  EXPECT_EQ(events.size(), 1u);
  EXPECT_TRUE(parser.HasPartialEvent());
  EXPECT_EQ(parser.TakePartial(), "data: cut off");
  EXPECT_FALSE(parser.HasPartialEvent());
}

TEST(SseParserTest, FailsOnAnEventLargerThanTheLimit) {
  SseParser parser(/*max_event_bytes=*/16);
  auto status = parser.Feed("data: 0123456789012345678", [](SseEvent&&) {});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(status.error().message.find("larger than 16 bytes"), std::string::npos);
  EXPECT_FALSE(parser.Feed("\n\n", [](SseEvent&&) {}).ok());
}

}  // namespace
}  // namespace agentbudget::core
