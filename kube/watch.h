#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "kube/transport.h"

namespace agentbudget::kube {

enum class EventType { kAdded, kModified, kDeleted, kBookmark, kError };

std::string_view EventTypeName(EventType type);

struct WatchEvent {
  EventType type = EventType::kAdded;
  // The object; for kError the Kubernetes Status; for kBookmark only kind, apiVersion and
  // metadata.resourceVersion are meaningful.
  nlohmann::json object;
};

// Splits a watch body (one JSON object per line) into events, however the bytes are cut
// into reads: an event split across reads is held until its newline arrives. Not
// thread-safe; one per stream.
class WatchDecoder {
 public:
  // A line longer than this is an error: a guard against a runaway or hostile stream.
  static constexpr std::size_t kMaxLineBytes = 64u << 20;

  // Appends `bytes` and returns the events completed by them, in order. Fails with
  // kInternal (a line that is not a watch event) or kResourceExhausted (a line too long);
  // the stream cannot continue after an error.
  Result<std::vector<WatchEvent>> Feed(std::string_view bytes);

  // True when bytes of an unfinished line are buffered.
  bool HasPartialLine() const { return !partial_.empty(); }

 private:
  std::string partial_;
};

// Decodes one watch line.
Result<WatchEvent> DecodeWatchEvent(std::string_view line);

// A watch in progress: events in order, each as soon as its line has arrived. Next() is
// called from one thread; Cancel() from any, and makes a blocked Next() return.
class WatchStream {
 public:
  explicit WatchStream(std::unique_ptr<ResponseStream> body) : body_(std::move(body)) {}

  // Blocks for the next event. Returns nullopt when the server ended the watch cleanly
  // (its timeout: resume from the last resourceVersion seen), an error when the
  // connection failed, timed out or the stream is corrupt (also resume, with backoff),
  // kUnavailable after Cancel(). An ERROR event is returned as an event, not an error:
  // its Status says what happened (410 Gone: relist).
  Result<std::optional<WatchEvent>> Next();
  void Cancel() { body_->Cancel(); }

 private:
  std::unique_ptr<ResponseStream> body_;
  WatchDecoder decoder_;
  std::vector<WatchEvent> ready_;
  std::size_t next_ = 0;
};

}  // namespace agentbudget::kube
