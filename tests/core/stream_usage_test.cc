#include "core/stream_usage.h"

#include <gtest/gtest.h>

namespace agentbudget::core {
namespace {

// REQUIRES: `event` and `data` outlive the event's use.
SseEvent Event(std::string_view event, std::string_view data) { return SseEvent{event, data, ""}; }

TEST(StreamUsageTrackerTest, AnthropicTakesTheLatestCumulativeCounts) {
  StreamUsageTracker tracker(Api::kAnthropicMessages, false);
  tracker.OnEvent(Event("message_start", R"({"type":"message_start","message":{
      "model":"claude-haiku-4-5","usage":{"input_tokens":12,"cache_read_input_tokens":100,
      "output_tokens":1}}})"));
  tracker.OnEvent(Event("content_block_delta",
                        R"({"type":"content_block_delta","delta":{"type":"text_delta","text":"hi"}})"));
  tracker.OnEvent(Event("message_delta", R"({"type":"message_delta","usage":{"output_tokens":20}})"));
  tracker.OnEvent(Event("message_delta", R"({"type":"message_delta","usage":{"output_tokens":25}})"));
  tracker.OnEvent(Event("message_stop", R"({"type":"message_stop"})"));
  ASSERT_TRUE(tracker.complete());
  const MeteredUsage metered = tracker.Finish(999);
  EXPECT_EQ(metered.usage, (Usage{12, 100, 0, 0, 25, 0}));
  EXPECT_FALSE(metered.estimated);
  EXPECT_EQ(metered.response_model, "claude-haiku-4-5");
}

TEST(StreamUsageTrackerTest, AnthropicAcceptsInputCountsThatArriveOnlyInMessageDelta) {
  StreamUsageTracker tracker(Api::kAnthropicMessages, false);
  tracker.OnEvent(Event("message_start", R"({"message":{"usage":{"output_tokens":0}}})"));
  tracker.OnEvent(Event("message_delta", R"({"usage":{"input_tokens":70,
      "cache_creation_input_tokens":8,"output_tokens":9}})"));
  EXPECT_EQ(tracker.Finish(5).usage, (Usage{70, 0, 8, 0, 9, 0}));
}

TEST(StreamUsageTrackerTest, AnthropicErrorMidStreamIsChargedWithAnEstimatedOutput) {
  StreamUsageTracker tracker(Api::kAnthropicMessages, false);
  tracker.OnEvent(Event("message_start", R"({"message":{"usage":{"input_tokens":40,"output_tokens":1}}})"));
  tracker.OnEvent(Event("content_block_delta", R"({"delta":{"text":"0123456789abcdef"}})"));
  tracker.OnEvent(Event("error", R"({"type":"error","error":{"type":"overloaded_error"}})"));
  EXPECT_TRUE(tracker.saw_error());
  const MeteredUsage metered = tracker.Finish(1000);
  EXPECT_TRUE(metered.estimated);
  EXPECT_EQ(metered.usage.input, 40);
  EXPECT_EQ(metered.usage.output, 4);
}

TEST(StreamUsageTrackerTest, ChatReadsTheFinalUsageChunkAndStripsItWhenNotRequested) {
  StreamUsageTracker tracker(Api::kOpenAIChat, /*strip_usage_chunk=*/true);
  EXPECT_TRUE(tracker.OnEvent(Event("", R"({"model":"gpt-5","choices":[{"delta":{"content":"hey"}}],"usage":null})")));
  EXPECT_FALSE(tracker.OnEvent(Event("", R"({"model":"gpt-5","choices":[],"usage":{
      "prompt_tokens":30,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":10}}})")));
  EXPECT_TRUE(tracker.OnEvent(Event("", "[DONE]")));
  EXPECT_EQ(tracker.Finish(0).usage, (Usage{20, 10, 0, 0, 3, 0}));
  EXPECT_EQ(tracker.Finish(0).response_model, "gpt-5");
}

TEST(StreamUsageTrackerTest, ChatForwardsTheUsageChunkWhenTheClientAskedForIt) {
  StreamUsageTracker tracker(Api::kOpenAIChat, /*strip_usage_chunk=*/false);
  EXPECT_TRUE(tracker.OnEvent(
      Event("", R"({"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}})")));
}

TEST(StreamUsageTrackerTest, ChatCutBeforeUsageEstimatesFromRequestAndStreamedText) {
  StreamUsageTracker tracker(Api::kOpenAIChat, true);
  tracker.OnEvent(Event("", R"({"choices":[{"delta":{"content":"12345678"}}]})"));
  tracker.OnEvent(Event("", R"({"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"{}"}}]}}]})"));
  const MeteredUsage metered = tracker.Finish(77);
  EXPECT_TRUE(metered.estimated);
  EXPECT_EQ(metered.usage, (Usage{77, 0, 0, 0, 3, 0}));
}

TEST(StreamUsageTrackerTest, ResponsesReadsEveryTerminalEvent) {
  for (const char* type : {"response.completed", "response.incomplete", "response.failed"}) {
    StreamUsageTracker tracker(Api::kOpenAIResponses, false);
    const std::string data = std::string(R"({"type":")") + type + R"(","response":{
        "model":"gpt-5.4","usage":{"input_tokens":11,"input_tokens_details":{"cached_tokens":1},
        "output_tokens":5,"output_tokens_details":{"reasoning_tokens":2}}}})";
    tracker.OnEvent(Event(type, data));
    ASSERT_TRUE(tracker.complete()) << type;
    EXPECT_EQ(tracker.Finish(0).usage, (Usage{10, 1, 0, 0, 5, 2})) << type;
  }
}

TEST(StreamUsageTrackerTest, SkipsMalformedEventData) {
  StreamUsageTracker tracker(Api::kOpenAIResponses, false);
  EXPECT_TRUE(tracker.OnEvent(Event("", "{not json")));
  EXPECT_TRUE(tracker.OnEvent(Event("", R"({"type":"response.completed","response":{"usage":{"input_tokens":"x"}}})")));
  EXPECT_FALSE(tracker.complete());
  EXPECT_TRUE(tracker.Finish(3).estimated);
}

TEST(StreamUsageTrackerTest, AnthropicReadsTheTypeFromTheDataWithoutAnEventField) {
  StreamUsageTracker tracker(Api::kAnthropicMessages, false);
  tracker.OnEvent(Event("", R"({"type":"message_start","message":{"model":"claude-opus-4-1",
      "usage":{"input_tokens":3,"output_tokens":1}}})"));
  tracker.OnEvent(Event("", R"({"delta":{"type":"thinking_delta","thinking":"abcd"},
      "type":"content_block_delta"})"));
  tracker.OnEvent(Event("", R"({"type":"content_block_delta","delta":{"partial_json":"{\"a\": 1}"}})"));
  tracker.OnEvent(Event("", R"({"type":"ping","delta":{"text":"not streamed text"}})"));
  const MeteredUsage metered = tracker.Finish(0);
  EXPECT_EQ(metered.response_model, "claude-opus-4-1");
  EXPECT_EQ(metered.usage.input, 3);
  EXPECT_EQ(metered.usage.output, 3);  // 4 + 8 bytes of text
}

TEST(StreamUsageTrackerTest, CountsTheDecodedSizeOfEscapedText) {
  StreamUsageTracker tracker(Api::kOpenAIResponses, false);
  // 9 bytes once decoded: a newline, a quote, "é" (2 bytes), an emoji (4 bytes) and "x".
  tracker.OnEvent(Event("", R"({"type":"response.output_text.delta","delta":"\n\"\u00e9\ud83d\ude00x"})"));
  tracker.OnEvent(Event("", R"({"type":"response.output_text.delta","delta":"abc"})"));
  EXPECT_EQ(tracker.Finish(0).usage.output, 3);  // 12 bytes
}

TEST(StreamUsageTrackerTest, ChatCountsEveryChoiceAndToolCall) {
  StreamUsageTracker tracker(Api::kOpenAIChat, false);
  tracker.OnEvent(Event("", R"({"model":"gpt-5","choices":[
      {"index":0,"delta":{"content":"1234","reasoning_content":"5678"}},
      {"index":1,"delta":{"tool_calls":[{"function":{"name":"f","arguments":"abcd"}},
                                        {"function":{"arguments":"efgh"}}]}},
      "not a choice",{"delta":"not a delta"}],"usage":null})"));
  const MeteredUsage metered = tracker.Finish(0);
  EXPECT_EQ(metered.usage.output, 4);  // 16 bytes
  EXPECT_EQ(metered.response_model, "gpt-5");
}

TEST(StreamUsageTrackerTest, SkipsEventsThatRepeatAMemberItReads) {
  StreamUsageTracker tracker(Api::kOpenAIChat, true);
  // Forwarded, but neither its usage nor its text is read: which usage is meant is unclear.
  EXPECT_TRUE(tracker.OnEvent(Event("", R"({"choices":[],"usage":{"prompt_tokens":1,
      "completion_tokens":1},"usage":{"prompt_tokens":2,"completion_tokens":2}})")));
  EXPECT_FALSE(tracker.complete());
  tracker.OnEvent(Event("", R"({"choices":[{"delta":{"content":"1234","content":"5678"}}]})"));
  // Members it does not read may repeat.
  tracker.OnEvent(Event("", R"({"id":"a","id":"b","choices":[{"delta":{"content":"12345678"}}]})"));
  EXPECT_EQ(tracker.Finish(0).usage.output, 2);
}

TEST(StreamUsageTrackerTest, IgnoresUsageThatIsNotAnObject) {
  StreamUsageTracker tracker(Api::kAnthropicMessages, false);
  tracker.OnEvent(Event("message_start", R"({"message":{"usage":null,"model":"m"}})"));
  tracker.OnEvent(Event("message_delta", R"({"usage":[{"output_tokens":5}]})"));
  EXPECT_FALSE(tracker.complete());
  EXPECT_EQ(tracker.Finish(9).usage.input, 9);
  EXPECT_EQ(tracker.Finish(9).response_model, "m");
}

}  // namespace
}  // namespace agentbudget::core
