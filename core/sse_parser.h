#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace agentbudget::core {

// One server-sent event block: the fields the meter reads, plus the exact bytes it came in
// (terminating blank line included) so that a proxy can forward it unchanged. The views
// point into the parser's input or buffers: valid only while the callback that received the
// event runs (copy what must outlive it).
struct SseEvent {
  std::string_view event;  // the `event:` field; empty when absent
  std::string_view data;   // the `data:` lines joined with '\n'
  std::string_view raw;    // the block's bytes as received
};

// An incremental parser for text/event-stream (WHATWG HTML §9.2): lines end in LF, CRLF or
// CR; a blank line ends an event; lines starting with ':' are comments; one leading space
// after "field:" is dropped. Blocks holding only comments are delivered too (with empty
// event and data) so that keep-alive pings reach the client.
// Bytes may be fed in arbitrary pieces. Events that arrive whole in one piece are delivered
// without copying; only the bytes of an unfinished event are kept (at most max_event_bytes)
// until the piece that completes it. Not thread-safe; one parser per stream.
class SseParser {
 public:
  static constexpr size_t kDefaultMaxEventBytes = 16 * 1024 * 1024;

  explicit SseParser(size_t max_event_bytes = kDefaultMaxEventBytes)
      : max_event_bytes_(max_event_bytes) {}

  // Parses `bytes`, calling `on_event` for every event completed by them, in order.
  // Fails with kInvalidArgument once an event grows beyond the limit; the parser is then
  // unusable (every later Feed fails the same way).
  Status Feed(std::string_view bytes, const std::function<void(const SseEvent&)>& on_event);

  // True when bytes of an unfinished event are held: the stream ended mid-event.
  bool HasPartialEvent() const { return !partial_.empty(); }

  // The bytes of the unfinished event (for forwarding what arrived before a cut).
  std::string TakePartial();

 private:
  // Where a field's value lies, as offsets from the start of its event's bytes (which move
  // from the caller's piece into partial_ when the event is unfinished).
  struct Span {
    size_t offset = 0;
    size_t size = 0;
  };

  // Reads the event beginning at `block` (bytes up to the end of the input) from scanned_
  // on, delivering it if complete. Returns the size of the delivered event, or 0 when the
  // event is unfinished (scanned_ and the fields then say how far it was read).
  size_t ReadEvent(std::string_view block, const std::function<void(const SseEvent&)>& on_event);
  void ReadField(std::string_view block, size_t begin, size_t end);
  void ResetEvent();
  Status TooLarge() const;

  size_t max_event_bytes_;
  std::string partial_;     // the unfinished event's bytes
  size_t scanned_ = 0;      // bytes of the current event whose lines were read
  size_t searched_ = 0;     // bytes of it searched for the end of the line after them
  Span event_;              // the current event's `event:` value
  Span data_;               // its first `data:` value
  size_t data_lines_ = 0;   // its count of `data:` lines
  std::string joined_data_; // its data when it has several lines (their values joined)
  bool failed_ = false;
};

}  // namespace agentbudget::core
