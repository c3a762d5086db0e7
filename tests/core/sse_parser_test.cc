#include "core/sse_parser.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace agentbudget::core {
namespace {

// An event copied out of the callback, whose views last only while it runs.
struct Copied {
  std::string event;
  std::string data;
  std::string raw;
};

std::function<void(const SseEvent&)> CopyInto(std::vector<Copied>& events) {
  return [&events](const SseEvent& e) {
    events.push_back({std::string(e.event), std::string(e.data), std::string(e.raw)});
  };
}

std::vector<Copied> FeedAll(SseParser& parser, std::string_view bytes) {
  std::vector<Copied> events;
  EXPECT_TRUE(parser.Feed(bytes, CopyInto(events)).ok());
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
  std::vector<Copied> events;
  for (char c : stream) {
    ASSERT_TRUE(parser.Feed(std::string_view(&c, 1), CopyInto(events)).ok());
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

TEST(SseParserTest, DeliversTheSameEventsWhereverTheStreamIsSplit) {
  const std::string stream =
      "event: a\r\ndata: one\r\ndata: two\r\n\r\n: ping\r\rdata:x\rdata: y\r\r"
      "event: b\ndata\nid: 7\n\n";
  SseParser whole;
  const std::vector<Copied> expected = FeedAll(whole, stream);
  ASSERT_EQ(expected.size(), 4u);
  EXPECT_EQ(expected[0].data, "one\ntwo");
  EXPECT_EQ(expected[2].data, "x\ny");
  EXPECT_EQ(expected[3].event, "b");
  EXPECT_EQ(expected[3].data, "");
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    SseParser parser;
    std::vector<Copied> events = FeedAll(parser, std::string_view(stream).substr(0, cut));
    for (Copied& e : FeedAll(parser, std::string_view(stream).substr(cut))) {
      events.push_back(std::move(e));
    }
    ASSERT_EQ(events.size(), expected.size()) << cut;
    for (size_t i = 0; i < events.size(); ++i) {
      EXPECT_EQ(events[i].event, expected[i].event) << cut;
      EXPECT_EQ(events[i].data, expected[i].data) << cut;
      EXPECT_EQ(events[i].raw, expected[i].raw) << cut;
    }
    EXPECT_FALSE(parser.HasPartialEvent()) << cut;
  }
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
  auto status = parser.Feed("data: 0123456789012345678", [](const SseEvent&) {});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(status.error().message.find("larger than 16 bytes"), std::string::npos);
  EXPECT_FALSE(parser.Feed("\n\n", [](const SseEvent&) {}).ok());
}

TEST(SseParserTest, FailsOnAnEventThatOutgrowsTheLimitAcrossPieces) {
  SseParser parser(/*max_event_bytes=*/16);
  ASSERT_TRUE(parser.Feed("data: 0123\n\ndata: 01234", [](const SseEvent&) {}).ok());
  EXPECT_FALSE(parser.Feed("5678901", [](const SseEvent&) {}).ok());
}

}  // namespace
}  // namespace agentbudget::core
