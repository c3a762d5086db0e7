#include "core/stream_usage.h"

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

#include "core/json_scan.h"

namespace agentbudget::core {
namespace {

using nlohmann::json;

// The event types the tracker acts on, of every API.
enum class EventType {
  kOther,
  kError,
  kContentBlockDelta,  // Anthropic
  kMessageStart,       // Anthropic
  kMessageDelta,       // Anthropic
  kTextDelta,          // Responses: any "*.delta"
  kResponseCreated,
  kResponseCompleted,
  kResponseIncomplete,
  kResponseFailed,
};

EventType Classify(Api api, std::string_view type) {
  if (type == "error") {
    return EventType::kError;
  }
  if (api == Api::kAnthropicMessages) {
    return type == "content_block_delta" ? EventType::kContentBlockDelta
           : type == "message_start"     ? EventType::kMessageStart
           : type == "message_delta"     ? EventType::kMessageDelta
                                         : EventType::kOther;
  }
  if (api == Api::kOpenAIResponses) {
    return type.size() > 6 && type.ends_with(".delta") ? EventType::kTextDelta
           : type == "response.created"                ? EventType::kResponseCreated
           : type == "response.completed"              ? EventType::kResponseCompleted
           : type == "response.incomplete"             ? EventType::kResponseIncomplete
           : type == "response.failed"                 ? EventType::kResponseFailed
                                                       : EventType::kOther;
  }
  return EventType::kOther;
}

// The members of an event's data that the tracker reads, by where they sit:
//   Anthropic  {type, delta: {text, partial_json, thinking}, message: {model, usage}, usage}
//   chat       {error, model, choices: [{delta: {content, reasoning_content,
//               tool_calls: [{function: {arguments}}]}}], usage}
//   Responses  {type, delta, response: {model, usage}}
enum class Node {
  kOther,  // not read; skipped with all it holds
  kRoot,
  kType,
  kModel,
  kError,
  kText,  // a string whose size counts as streamed text
  kUsage,
  kDelta,
  kMessage,
  kResponse,
  kChoices,
  kChoice,
  kToolCalls,
  kToolCall,
  kFunction,
};

Node MemberNode(Api api, Node parent, std::string_view key) {
  switch (api) {
    case Api::kAnthropicMessages:
      if (parent == Node::kRoot) {
        return key == "type"      ? Node::kType
               : key == "delta"   ? Node::kDelta
               : key == "message" ? Node::kMessage
               : key == "usage"   ? Node::kUsage
                                  : Node::kOther;
      }
      if (parent == Node::kDelta) {
        return key == "text" || key == "partial_json" || key == "thinking" ? Node::kText
                                                                           : Node::kOther;
      }
      if (parent == Node::kMessage) {
        return key == "model" ? Node::kModel : key == "usage" ? Node::kUsage : Node::kOther;
      }
      return Node::kOther;
    case Api::kOpenAIChat:
      switch (parent) {
        case Node::kRoot:
          return key == "error"     ? Node::kError
                 : key == "model"   ? Node::kModel
                 : key == "choices" ? Node::kChoices
                 : key == "usage"   ? Node::kUsage
                                    : Node::kOther;
        case Node::kChoice:
          return key == "delta" ? Node::kDelta : Node::kOther;
        case Node::kDelta:
          return key == "content" || key == "reasoning_content" ? Node::kText
                 : key == "tool_calls"                          ? Node::kToolCalls
                                                                : Node::kOther;
        case Node::kToolCall:
          return key == "function" ? Node::kFunction : Node::kOther;
        case Node::kFunction:
          return key == "arguments" ? Node::kText : Node::kOther;
        default:
          return Node::kOther;
      }
    case Api::kOpenAIResponses:
      if (parent == Node::kRoot) {
        return key == "type"       ? Node::kType
               : key == "delta"    ? Node::kText
               : key == "response" ? Node::kResponse
                                   : Node::kOther;
      }
      if (parent == Node::kResponse) {
        return key == "model" ? Node::kModel : key == "usage" ? Node::kUsage : Node::kOther;
      }
      return Node::kOther;
  }
  return Node::kOther;
}

bool IsArrayNode(Node node) { return node == Node::kChoices || node == Node::kToolCalls; }

bool IsObjectNode(Node node) {
  return node == Node::kRoot || node == Node::kDelta || node == Node::kMessage ||
         node == Node::kResponse || node == Node::kChoice || node == Node::kToolCall ||
         node == Node::kFunction;
}

// Reads the members above from one event's data in a single pass, without building the
// JSON document: only usage objects (a few per stream) are parsed as documents, for the
// usage readers. One per event.
class EventReader : public JsonHandler {
 public:
  // `model` receives the answering model (a buffer kept across events, so that copying the
  // model of every chat chunk allocates nothing).
  EventReader(Api api, std::string& model) : api_(api), model_(model) { model_.clear(); }

  // False when `data` is not one JSON object, or repeats a member read (whose meaning would
  // be ambiguous); nothing read may be used then.
  bool Read(std::string_view data) {
    if (data.empty() || data.front() != '{') {
      return false;
    }
    data_ = data;
    return ScanJson(data, *this);
  }

  EventType type() const { return type_; }
  size_t text_bytes() const { return text_bytes_; }
  bool has_error() const { return error_; }
  bool has_response() const { return response_; }
  // Whether "choices" is an empty array (the chat usage-only chunk).
  bool no_choices() const { return choices_array_ && !choice_seen_; }
  // The root's "usage", and the one in "message" or "response": objects, or null when absent
  // or not objects.
  const json& root_usage() const { return root_usage_; }
  const json& nested_usage() const { return nested_usage_; }

  bool StartObject(size_t begin) override {
    if (EnterUnread()) {
      return true;
    }
    const Node node = Incoming();
    if (node == Node::kUsage) {
      capture_ = 1;
      capture_begin_ = begin;
      capture_root_ = frames_[depth_ - 1].node == Node::kRoot;
      return true;
    }
    if (!IsObjectNode(node)) {
      skip_ = 1;
      return true;
    }
    response_ = response_ || node == Node::kResponse;
    frames_[depth_++] = Frame{node, /*array=*/false};
    return true;
  }
  bool EndObject(size_t end) override {
    if (capture_ > 0) {
      if (--capture_ == 0) {
        json& usage = capture_root_ ? root_usage_ : nested_usage_;
        usage = json::parse(data_.substr(capture_begin_, end - capture_begin_), nullptr,
                            /*allow_exceptions=*/false);
      }
      return true;
    }
    return End();
  }
  bool StartArray(size_t) override {
    if (EnterUnread()) {
      return true;
    }
    const Node node = Incoming();
    if (!IsArrayNode(node)) {
      skip_ = 1;
      return true;
    }
    choices_array_ = choices_array_ || node == Node::kChoices;
    frames_[depth_++] = Frame{node, /*array=*/true};
    return true;
  }
  bool EndArray(size_t) override {
    if (capture_ > 0) {
      --capture_;
      return true;
    }
    return End();
  }
  bool Key(std::string_view key) override {
    if (capture_ > 0 || skip_ > 0) {
      return true;
    }
    Frame& frame = frames_[depth_ - 1];
    next_ = MemberNode(api_, frame.node, key);
    if (next_ == Node::kOther) {
      return true;
    }
    // Members that map to the same node (the text strings) are told apart by their names.
    const uint32_t bit = next_ == Node::kText ? 1u << (16 + TextIndex(key))
                                              : 1u << static_cast<unsigned>(next_);
    if ((frame.seen & bit) != 0) {
      return false;
    }
    frame.seen |= bit;
    if (next_ == Node::kError) {
      error_ = true;
      next_ = Node::kOther;
    }
    return true;
  }
  bool String(std::string_view value) override {
    if (capture_ > 0 || skip_ > 0) {
      return true;
    }
    switch (Incoming()) {
      case Node::kType:
        type_ = Classify(api_, value);
        break;
      case Node::kModel:
        model_.assign(value);
        break;
      case Node::kText:
        text_bytes_ += value.size();
        break;
      default:
        break;
    }
    return true;
  }
  bool Scalar(std::string_view) override {
    if (capture_ == 0 && skip_ == 0) {
      Incoming();
    }
    return true;
  }

 private:
  // One object or array being read. The deepest read is 7 levels (a chat tool call's
  // function), so that frames_ never overflows.
  struct Frame {
    Node node = Node::kOther;
    bool array = false;
    uint32_t seen = 0;  // the members already read (see Key())
  };

  static unsigned TextIndex(std::string_view key) {
    return key == "text" || key == "content" || key == "arguments" ? 0
           : key == "partial_json" || key == "reasoning_content"   ? 1
                                                                   : 2;
  }

  // Enters a container inside a usage object or a value not read, if it is; true then.
  bool EnterUnread() {
    if (capture_ > 0) {
      ++capture_;
      return true;
    }
    if (skip_ > 0) {
      ++skip_;
      return true;
    }
    return false;
  }

  // The node of the value starting now: the root, an array's element or the member named
  // last.
  Node Incoming() {
    if (depth_ == 0) {
      return Node::kRoot;
    }
    const Frame& frame = frames_[depth_ - 1];
    if (frame.array) {
      choice_seen_ = choice_seen_ || frame.node == Node::kChoices;
      return frame.node == Node::kChoices     ? Node::kChoice
             : frame.node == Node::kToolCalls ? Node::kToolCall
                                              : Node::kOther;
    }
    const Node node = next_;
    next_ = Node::kOther;
    return node;
  }

  bool End() {
    if (skip_ > 0) {
      --skip_;
    } else {
      --depth_;
    }
    return true;
  }

  const Api api_;
  std::string& model_;
  std::string_view data_;
  std::array<Frame, 8> frames_;
  size_t depth_ = 0;    // frames_ in use
  size_t skip_ = 0;     // depth inside a value not read
  size_t capture_ = 0;  // depth inside a usage object
  size_t capture_begin_ = 0;
  bool capture_root_ = false;  // the usage object is the root's
  Node next_ = Node::kOther;
  EventType type_ = EventType::kOther;
  size_t text_bytes_ = 0;
  bool error_ = false;
  bool response_ = false;
  bool choices_array_ = false;
  bool choice_seen_ = false;
  json root_usage_;
  json nested_usage_;
};

}  // namespace

bool StreamUsageTracker::OnEvent(const SseEvent& event) {
  switch (api_) {
    case Api::kAnthropicMessages:
      return OnAnthropic(event);
    case Api::kOpenAIChat:
      return OnChat(event);
    case Api::kOpenAIResponses:
      return OnResponses(event);
  }
  return true;
}

bool StreamUsageTracker::OnAnthropic(const SseEvent& event) {
  // The event field names the type when present: events of other types are not read at all.
  EventType type = Classify(api_, event.event);
  if (!event.event.empty() && type == EventType::kOther) {
    return true;
  }
  EventReader data(api_, event_model_);
  if (!data.Read(event.data)) {
    return true;
  }
  if (event.event.empty()) {
    type = data.type();
  }
  switch (type) {
    case EventType::kContentBlockDelta:
      text_bytes_ += data.text_bytes();
      break;
    case EventType::kMessageStart:
      if (!event_model_.empty()) {
        model_.assign(event_model_);
      }
      if (MergeAnthropicUsage(data.nested_usage(), usage_).ok()) {
        input_known_ = input_known_ || data.nested_usage().contains("input_tokens");
      }
      break;
    case EventType::kMessageDelta:
      if (MergeAnthropicUsage(data.root_usage(), usage_).ok()) {
        input_known_ = input_known_ || data.root_usage().contains("input_tokens");
        complete_ = true;
      }
      break;
    case EventType::kError:
      saw_error_ = true;
      break;
    default:
      break;
  }
  return true;
}

bool StreamUsageTracker::OnChat(const SseEvent& event) {
  EventReader data(api_, event_model_);
  if (!data.Read(event.data)) {
    return true;
  }
  if (data.has_error()) {
    saw_error_ = true;
    return true;
  }
  if (!event_model_.empty()) {
    model_.assign(event_model_);
  }
  text_bytes_ += data.text_bytes();
  if (!data.root_usage().is_object()) {
    return true;
  }
  auto normalised = NormaliseUsage(Api::kOpenAIChat, data.root_usage());
  if (normalised.ok()) {
    usage_ = *normalised;
    input_known_ = true;
    complete_ = true;
  }
  return !(strip_usage_chunk_ && data.no_choices());
}

bool StreamUsageTracker::OnResponses(const SseEvent& event) {
  EventReader data(api_, event_model_);
  if (!data.Read(event.data)) {
    return true;
  }
  const EventType type = data.type();
  if (type == EventType::kTextDelta) {
    text_bytes_ += data.text_bytes();
    return true;
  }
  if (type == EventType::kError) {
    saw_error_ = true;
    return true;
  }
  if (type != EventType::kResponseCompleted && type != EventType::kResponseIncomplete &&
      type != EventType::kResponseFailed && type != EventType::kResponseCreated) {
    return true;
  }
  if (!data.has_response()) {
    return true;
  }
  if (!event_model_.empty()) {
    model_.assign(event_model_);
  }
  if (type == EventType::kResponseCreated) {
    return true;
  }
  if (type == EventType::kResponseFailed) {
    saw_error_ = true;
  }
  if (data.nested_usage().is_object()) {
    auto normalised = NormaliseUsage(Api::kOpenAIResponses, data.nested_usage());
    if (normalised.ok()) {
      usage_ = *normalised;
      input_known_ = true;
      complete_ = true;
    }
  }
  return true;
}

MeteredUsage StreamUsageTracker::Finish(int64_t estimated_input) const {
  MeteredUsage out{usage_, false, model_};
  if (complete_) {
    return out;
  }
  out.estimated = true;
  if (!input_known_) {
    out.usage.input = std::max(out.usage.input, estimated_input);
  }
  out.usage.output = std::max(out.usage.output, EstimateTokensFromBytes(text_bytes_));
  return out;
}

}  // namespace agentbudget::core
