#include "kube/watch.h"

namespace agentbudget::kube {

using nlohmann::json;

std::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kAdded:
      return "ADDED";
    case EventType::kModified:
      return "MODIFIED";
    case EventType::kDeleted:
      return "DELETED";
    case EventType::kBookmark:
      return "BOOKMARK";
    case EventType::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

Result<WatchEvent> DecodeWatchEvent(std::string_view line) {
  json parsed = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object() || !parsed.contains("type") || !parsed["type"].is_string() ||
      !parsed.contains("object") || !parsed["object"].is_object()) {
    return Internal("watch stream sent a line that is not a watch event: " +
                    std::string(line.substr(0, 200)));
  }
  const std::string& type = parsed["type"].get_ref<const std::string&>();
  WatchEvent event;
  if (type == "ADDED") {
    event.type = EventType::kAdded;
  } else if (type == "MODIFIED") {
    event.type = EventType::kModified;
  } else if (type == "DELETED") {
    event.type = EventType::kDeleted;
  } else if (type == "BOOKMARK") {
    event.type = EventType::kBookmark;
  } else if (type == "ERROR") {
    event.type = EventType::kError;
  } else {
    return Internal("watch stream sent an unknown event type '" + type + "'");
  }
  event.object = std::move(parsed["object"]);
  return event;
}

Result<std::vector<WatchEvent>> WatchDecoder::Feed(std::string_view bytes) {
  std::vector<WatchEvent> events;
  std::size_t start = 0;
  while (start < bytes.size()) {
    std::size_t newline = bytes.find('\n', start);
    if (newline == std::string_view::npos) {
      partial_.append(bytes.substr(start));
      if (partial_.size() > kMaxLineBytes) {
        return MakeError(ErrorCode::kResourceExhausted, "watch event larger than 64 MiB");
      }
      break;
    }
    std::string_view piece = bytes.substr(start, newline - start);
    start = newline + 1;
    std::string_view line = piece;
    if (!partial_.empty()) {
      partial_.append(piece);
      line = partial_;
    }
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) {
      Result<WatchEvent> event = DecodeWatchEvent(line);
      if (!event.ok()) {
        return std::move(event).error();
      }
      events.push_back(std::move(event).value());
    }
    partial_.clear();
  }
  return events;
}

Result<std::optional<WatchEvent>> WatchStream::Next() {
  char buffer[16384];
  while (next_ >= ready_.size()) {
    ready_.clear();
    next_ = 0;
    Result<std::size_t> n = body_->Read(buffer, sizeof buffer);
    if (!n.ok()) {
      return std::move(n).error();
    }
    if (*n == 0) {
      if (decoder_.HasPartialLine()) {
        return Unavailable("watch stream ended in the middle of an event");
      }
      return std::optional<WatchEvent>();
    }
    Result<std::vector<WatchEvent>> events = decoder_.Feed(std::string_view(buffer, *n));
    if (!events.ok()) {
      return std::move(events).error();
    }
    ready_ = std::move(events).value();
  }
  return std::optional<WatchEvent>(std::move(ready_[next_++]));
}

}  // namespace agentbudget::kube
