#include "core/sse_parser.h"

#include <algorithm>

namespace agentbudget::core {

Status SseParser::Feed(std::string_view bytes,
                       const std::function<void(const SseEvent&)>& on_event) {
  if (failed_) {
    return TooLarge();
  }
  // An event begun in an earlier piece is completed in partial_; the events after it, and
  // all of them when none was pending, are read in place.
  const bool pending = !partial_.empty();
  if (pending) {
    partial_.append(bytes);
  }
  const std::string_view input = pending ? std::string_view(partial_) : bytes;
  size_t start = 0;
  while (start < input.size()) {
    const size_t size = ReadEvent(input.substr(start), on_event);
    if (size == 0) {
      break;
    }
    start += size;
  }
  const std::string_view rest = input.substr(start);
  if (rest.size() > max_event_bytes_) {
    failed_ = true;
    partial_.clear();
    ResetEvent();
    return TooLarge();
  }
  if (pending) {
    partial_.erase(0, start);
  } else {
    partial_.assign(rest);
  }
  return OkStatus();
}

size_t SseParser::ReadEvent(std::string_view block,
                            const std::function<void(const SseEvent&)>& on_event) {
  size_t line = scanned_;
  size_t i = std::max(searched_, scanned_);
  while (true) {
    while (i < block.size() && block[i] != '\n' && block[i] != '\r') {
      ++i;
    }
    // A line ending in CR is read once the next byte shows whether an LF follows, so that
    // the LF stays in this event's raw bytes.
    if (i == block.size() || (block[i] == '\r' && i + 1 == block.size())) {
      scanned_ = line;
      searched_ = i;
      return 0;
    }
    size_t next = i + 1;
    if (block[i] == '\r' && block[next] == '\n') {
      ++next;
    }
    if (i == line) {
      // A blank line ends the event.
      SseEvent event;
      event.event = block.substr(event_.offset, event_.size);
      event.data = data_lines_ > 1 ? std::string_view(joined_data_)
                                   : block.substr(data_.offset, data_.size);
      event.raw = block.substr(0, next);
      on_event(event);
      ResetEvent();
      return next;
    }
    ReadField(block, line, i);
    line = next;
    i = next;
  }
}

void SseParser::ReadField(std::string_view block, size_t begin, size_t end) {
  const std::string_view line = block.substr(begin, end - begin);
  if (line.front() == ':') {
    return;  // a comment
  }
  const size_t colon = line.find(':');
  std::string_view field = line;
  Span value{end, 0};
  if (colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value.offset = begin + colon + 1;
    if (value.offset < end && block[value.offset] == ' ') {
      ++value.offset;
    }
    value.size = end - value.offset;
  }
  if (field == "data") {
    if (data_lines_ == 1) {
      joined_data_.assign(block.substr(data_.offset, data_.size));
    }
    if (data_lines_ == 0) {
      data_ = value;
    } else {
      joined_data_.push_back('\n');
      joined_data_.append(block.substr(value.offset, value.size));
    }
    ++data_lines_;
  } else if (field == "event") {
    event_ = value;
  }
}

void SseParser::ResetEvent() {
  scanned_ = 0;
  searched_ = 0;
  event_ = Span{};
  data_ = Span{};
  data_lines_ = 0;
  joined_data_.clear();
}

Status SseParser::TooLarge() const {
  return InvalidArgument("server-sent event larger than " + std::to_string(max_event_bytes_) +
                         " bytes");
}

std::string SseParser::TakePartial() {
  std::string out = std::move(partial_);
  partial_.clear();
  ResetEvent();
  return out;
}

}  // namespace agentbudget::core
