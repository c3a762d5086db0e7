#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace agentbudget::core {

// One server-sent event block: the fields the meter reads, plus the exact bytes it came in
// (terminating blank line included) so that a proxy can forward it unchanged.
struct SseEvent {
  std::string event;  // the `event:` field; empty when absent
  std::string data;   // the `data:` lines joined with '\n'
  std::string raw;    // the block's bytes as received
};

// An incremental parser for text/event-stream (WHATWG HTML §9.2): lines end in LF, CRLF or
// CR; a blank line ends an event; lines starting with ':' are comments; one leading space
// after "field:" is dropped. Blocks holding only comments are delivered too (with empty
// event and data) so that keep-alive pings reach the client.
// Bytes may be fed in arbitrary pieces. Not thread-safe; one parser per stream.
class SseParser {
 public:
  static constexpr size_t kDefaultMaxEventBytes = 16 * 1024 * 1024;

  explicit SseParser(size_t max_event_bytes = kDefaultMaxEventBytes)
      : max_event_bytes_(max_event_bytes) {}

  // Parses `bytes`, calling `on_event` for every event completed by them, in order.
  // Fails with kInvalidArgument once an event grows beyond the limit; the parser is then
  // unusable (every later Feed fails the same way).
  Status Feed(std::string_view bytes, const std::function<void(SseEvent&&)>& on_event);

  // True when bytes of an unfinished event are held: the stream ended mid-event.
  bool HasPartialEvent() const { return !current_.raw.empty(); }

  // The bytes of the unfinished event (for forwarding what arrived before a cut).
  std::string TakePartial();

 private:
  void ProcessLine(const std::function<void(SseEvent&&)>& on_event);

  size_t max_event_bytes_;
  SseEvent current_;
  std::string line_;         // the current line, without its terminator
  bool has_data_ = false;    // a data field was seen in the current event
  bool after_cr_ = false;    // the previous byte was CR (a following LF belongs to it)
  bool failed_ = false;
};

}  // namespace agentbudget::core
