#include "core/sse_parser.h"

namespace agentbudget::core {

Status SseParser::Feed(std::string_view bytes,
                       const std::function<void(SseEvent&&)>& on_event) {
  if (failed_) {
    return InvalidArgument("server-sent event larger than " + std::to_string(max_event_bytes_) +
                           " bytes");
  }
  size_t start = 0;  // first byte of `bytes` not yet copied into line_/raw
  for (size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (after_cr_) {
      // A line ended in CR: it is processed once the next byte shows whether an LF follows,
      // so that the LF stays in this event's raw bytes.
      after_cr_ = false;
      if (c == '\n') {
        current_.raw.push_back('\n');
        start = i + 1;
        ProcessLine(on_event);
        continue;
      }
      ProcessLine(on_event);
    }
    if (c != '\n' && c != '\r') {
      continue;
    }
    const std::string_view piece = bytes.substr(start, i - start);
    line_.append(piece);
    current_.raw.append(piece);
    current_.raw.push_back(c);
    start = i + 1;
    if (c == '\r') {
      after_cr_ = true;
    } else {
      ProcessLine(on_event);
    }
  }
  const std::string_view rest = bytes.substr(start);
  line_.append(rest);
  current_.raw.append(rest);
  if (current_.raw.size() > max_event_bytes_) {
    failed_ = true;
    current_ = SseEvent{};
    line_.clear();
    return InvalidArgument("server-sent event larger than " + std::to_string(max_event_bytes_) +
                           " bytes");
  }
  return OkStatus();
}

void SseParser::ProcessLine(const std::function<void(SseEvent&&)>& on_event) {
  if (line_.empty()) {
    // A blank line ends the event.
    on_event(std::move(current_));
    current_ = SseEvent{};
    has_data_ = false;
    return;
  }
  if (line_.front() == ':') {
    line_.clear();
    return;
  }
  const size_t colon = line_.find(':');
  std::string_view field(line_);
  std::string_view value;
  if (colon != std::string::npos) {
    field = std::string_view(line_).substr(0, colon);
    value = std::string_view(line_).substr(colon + 1);
    if (!value.empty() && value.front() == ' ') {
      value.remove_prefix(1);
    }
  }
  if (field == "data") {
    if (has_data_) {
      current_.data.push_back('\n');
    }
    current_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    current_.event.assign(value);
  }
  line_.clear();
}

std::string SseParser::TakePartial() {
  std::string out = std::move(current_.raw);
  current_ = SseEvent{};
  line_.clear();
  has_data_ = false;
  after_cr_ = false;
  return out;
}

}  // namespace agentbudget::core
