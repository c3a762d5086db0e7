#include "core/stream_usage.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/json_field.h"

namespace agentbudget::core {
namespace {

using nlohmann::json;

json ParseObject(const std::string& data) {
  if (data.empty() || data.front() != '{') {
    return json();
  }
  json parsed = json::parse(data, nullptr, /*allow_exceptions=*/false);
  return parsed.is_object() ? parsed : json();
}

size_t StringSize(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get_ref<const std::string&>().size() : 0;
}

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
  const json data = ParseObject(event.data);
  if (!data.is_object()) {
    return true;
  }
  const std::string type = event.event.empty() ? StringField(data, "type") : event.event;
  if (type == "content_block_delta") {
    const auto delta = data.find("delta");
    if (delta != data.end() && delta->is_object()) {
      text_bytes_ += StringSize(*delta, "text") + StringSize(*delta, "partial_json") +
                     StringSize(*delta, "thinking");
    }
  } else if (type == "message_start") {
    const auto message = data.find("message");
    if (message != data.end() && message->is_object()) {
      if (std::string model = StringField(*message, "model"); !model.empty()) {
        model_ = std::move(model);
      }
      const auto usage = message->find("usage");
      if (usage != message->end() && MergeAnthropicUsage(*usage, usage_).ok()) {
        input_known_ = input_known_ || usage->contains("input_tokens");
      }
    }
  } else if (type == "message_delta") {
    const auto usage = data.find("usage");
    if (usage != data.end() && MergeAnthropicUsage(*usage, usage_).ok()) {
      input_known_ = input_known_ || usage->contains("input_tokens");
      complete_ = true;
    }
  } else if (type == "error") {
    saw_error_ = true;
  }
  return true;
}

bool StreamUsageTracker::OnChat(const SseEvent& event) {
  const json data = ParseObject(event.data);
  if (!data.is_object()) {
    return true;
  }
  if (data.contains("error")) {
    saw_error_ = true;
    return true;
  }
  if (std::string model = StringField(data, "model"); !model.empty()) {
    model_ = std::move(model);
  }
  const auto choices = data.find("choices");
  if (choices != data.end() && choices->is_array()) {
    for (const json& choice : *choices) {
      const auto delta = choice.find("delta");
      if (!choice.is_object() || delta == choice.end() || !delta->is_object()) {
        continue;
      }
      text_bytes_ += StringSize(*delta, "content") + StringSize(*delta, "reasoning_content");
      const auto calls = delta->find("tool_calls");
      if (calls != delta->end() && calls->is_array()) {
        for (const json& call : *calls) {
          if (call.is_object() && call.contains("function") && call["function"].is_object()) {
            text_bytes_ += StringSize(call["function"], "arguments");
          }
        }
      }
    }
  }
  const auto usage = data.find("usage");
  if (usage == data.end() || !usage->is_object()) {
    return true;
  }
  auto normalised = NormaliseUsage(Api::kOpenAIChat, *usage);
  if (normalised.ok()) {
    usage_ = *normalised;
    input_known_ = true;
    complete_ = true;
  }
  const bool usage_only = choices != data.end() && choices->is_array() && choices->empty();
  return !(strip_usage_chunk_ && usage_only);
}

bool StreamUsageTracker::OnResponses(const SseEvent& event) {
  const json data = ParseObject(event.data);
  if (!data.is_object()) {
    return true;
  }
  const std::string type = StringField(data, "type");
  if (type.size() > 6 && type.ends_with(".delta")) {
    text_bytes_ += StringSize(data, "delta");
    return true;
  }
  if (type == "error") {
    saw_error_ = true;
    return true;
  }
  if (type != "response.completed" && type != "response.incomplete" &&
      type != "response.failed" && type != "response.created") {
    return true;
  }
  const auto response = data.find("response");
  if (response == data.end() || !response->is_object()) {
    return true;
  }
  if (std::string model = StringField(*response, "model"); !model.empty()) {
    model_ = std::move(model);
  }
  if (type == "response.created") {
    return true;
  }
  if (type == "response.failed") {
    saw_error_ = true;
  }
  const auto usage = response->find("usage");
  if (usage != response->end() && usage->is_object()) {
    auto normalised = NormaliseUsage(Api::kOpenAIResponses, *usage);
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
