#pragma once

#include <cstdint>
#include <string>

#include "core/sse_parser.h"
#include "core/usage.h"

namespace agentbudget::core {

// What one call used, as the meter charges it.
struct MeteredUsage {
  Usage usage;
  // True when some counts are estimates because the provider did not report them (the
  // stream was cut, an error event ended it, or the body was unreadable).
  bool estimated = false;
  // The model the provider says answered; empty when it did not say.
  std::string response_model;
};

// Follows one streamed response of `api` event by event and keeps its usage:
// - Anthropic: message_start's usage, then each message_delta's non-null fields overwrite
//   (cumulative counts: the latest value wins, nothing is summed);
// - OpenAI chat: the final chunk with "choices": [] and a usage object;
// - OpenAI Responses: response.completed, response.incomplete or response.failed.
// Also counts the text streamed, to estimate output when the provider never reports it.
// Malformed event data is skipped (the event is still forwarded), never fatal; so is data
// that repeats, within one object, a member the tracker reads (JSON leaves its meaning
// open). Each event's data is read in one pass without building it as a document (only its
// usage object is), and an Anthropic event whose `event:` field names a type the tracker
// does not read is not parsed at all.
// Not thread-safe; one tracker per stream.
class StreamUsageTracker {
 public:
  // `strip_usage_chunk` (OpenAI chat only): the client did not ask for include_usage, so
  // the usage-only chunk that the meter forced on is withheld from it.
  StreamUsageTracker(Api api, bool strip_usage_chunk)
      : api_(api), strip_usage_chunk_(strip_usage_chunk) {}

  // Reads one event. Returns false when the event must not be forwarded to the client.
  bool OnEvent(const SseEvent& event);

  // True once the provider's final usage has arrived.
  bool complete() const { return complete_; }
  // True when the stream carried an error event.
  bool saw_error() const { return saw_error_; }

  // The usage to charge. Counts the provider did not report are estimated: input from
  // `estimated_input` (the request's estimate) when no input count arrived, output from the
  // text streamed so far; the result is then marked estimated.
  MeteredUsage Finish(int64_t estimated_input) const;

 private:
  bool OnAnthropic(const SseEvent& event);
  bool OnChat(const SseEvent& event);
  bool OnResponses(const SseEvent& event);

  Api api_;
  bool strip_usage_chunk_;
  Usage usage_;
  bool input_known_ = false;
  bool complete_ = false;
  bool saw_error_ = false;
  size_t text_bytes_ = 0;
  std::string model_;
  std::string event_model_;  // the model named by the event being read (a reused buffer)
};

}  // namespace agentbudget::core
