#include "core/usage.h"

#include "core/money.h"

namespace agentbudget::core {
namespace {

using nlohmann::json;

// Reads an optional non-negative integer count; null or absent gives `fallback`.
Result<int64_t> Count(const json& object, const char* key, int64_t fallback) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    return fallback;
  }
  if (!it->is_number_integer() && !it->is_number_unsigned()) {
    return InvalidArgument(std::string("usage field ") + key + " is not an integer");
  }
  if (it->is_number_unsigned()) {
    const uint64_t v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(INT64_MAX)) {
      return InvalidArgument(std::string("usage field ") + key + " is out of range");
    }
    return static_cast<int64_t>(v);
  }
  const int64_t v = it->get<int64_t>();
  if (v < 0) {
    return InvalidArgument(std::string("usage field ") + key + " is negative");
  }
  return v;
}

const json& Child(const json& object, const char* key) {
  static const json kEmpty = json::object();
  const auto it = object.find(key);
  return it != object.end() && it->is_object() ? *it : kEmpty;
}

bool Has(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && !it->is_null();
}

// OpenAI counts cached tokens inside the input count: split them out.
Result<Usage> OpenAIUsage(const json& usage, const char* input_key, const char* input_details,
                          const char* output_key, const char* output_details) {
  auto input = Count(usage, input_key, 0);
  auto cached = Count(Child(usage, input_details), "cached_tokens", 0);
  auto output = Count(usage, output_key, 0);
  auto reasoning = Count(Child(usage, output_details), "reasoning_tokens", 0);
  for (const auto* r : {&input, &cached, &output, &reasoning}) {
    if (!r->ok()) {
      return r->error();
    }
  }
  Usage out;
  out.cache_read = std::min(*cached, *input);
  out.input = *input - out.cache_read;
  out.output = *output;
  out.reasoning = *reasoning;
  return out;
}

}  // namespace

std::string_view ApiName(Api api) {
  switch (api) {
    case Api::kAnthropicMessages:
      return "anthropic.messages";
    case Api::kOpenAIChat:
      return "openai.chat";
    case Api::kOpenAIResponses:
      return "openai.responses";
  }
  return "unknown";
}

std::string_view ProviderName(Api api) {
  return api == Api::kAnthropicMessages ? "anthropic" : "openai";
}

int64_t Usage::TotalInput() const {
  return SaturatingAdd(SaturatingAdd(input, cache_read),
                       SaturatingAdd(cache_write_5m, cache_write_1h));
}

int64_t Usage::Total() const { return SaturatingAdd(TotalInput(), output); }

json UsageToJson(const Usage& usage) {
  return json{{"input", usage.input},         {"cacheRead", usage.cache_read},
              {"cacheWrite5m", usage.cache_write_5m}, {"cacheWrite1h", usage.cache_write_1h},
              {"output", usage.output},       {"reasoning", usage.reasoning}};
}

Result<Usage> UsageFromJson(const json& j) {
  if (!j.is_object()) {
    return InvalidArgument("usage is not a JSON object");
  }
  Usage out;
  const std::pair<const char*, int64_t*> fields[] = {
      {"input", &out.input},   {"cacheRead", &out.cache_read},
      {"cacheWrite5m", &out.cache_write_5m}, {"cacheWrite1h", &out.cache_write_1h},
      {"output", &out.output}, {"reasoning", &out.reasoning}};
  for (const auto& [key, slot] : fields) {
    if (!j.contains(key)) {
      return InvalidArgument(std::string("usage lacks ") + key);
    }
    auto v = Count(j, key, 0);
    if (!v.ok()) {
      return v.error();
    }
    *slot = *v;
  }
  return out;
}

Status MergeAnthropicUsage(const json& usage, Usage& into) {
  if (!usage.is_object()) {
    return InvalidArgument("usage is not a JSON object");
  }
  Usage next = into;
  auto input = Count(usage, "input_tokens", into.input);
  auto read = Count(usage, "cache_read_input_tokens", into.cache_read);
  auto output = Count(usage, "output_tokens", into.output);
  for (const auto* r : {&input, &read, &output}) {
    if (!r->ok()) {
      return r->error();
    }
  }
  next.input = *input;
  next.cache_read = *read;
  next.output = *output;
  const json& creation = Child(usage, "cache_creation");
  if (Has(creation, "ephemeral_5m_input_tokens") || Has(creation, "ephemeral_1h_input_tokens")) {
    auto w5 = Count(creation, "ephemeral_5m_input_tokens", 0);
    auto w1 = Count(creation, "ephemeral_1h_input_tokens", 0);
    if (!w5.ok()) {
      return w5.error();
    }
    if (!w1.ok()) {
      return w1.error();
    }
    next.cache_write_5m = *w5;
    next.cache_write_1h = *w1;
  } else if (Has(usage, "cache_creation_input_tokens")) {
    auto total = Count(usage, "cache_creation_input_tokens", 0);
    if (!total.ok()) {
      return total.error();
    }
    next.cache_write_5m = *total;
    next.cache_write_1h = 0;
  }
  into = next;
  return OkStatus();
}

Result<Usage> NormaliseUsage(Api api, const json& usage) {
  if (!usage.is_object()) {
    return InvalidArgument("usage is not a JSON object");
  }
  switch (api) {
    case Api::kAnthropicMessages: {
      Usage out;
      Status merged = MergeAnthropicUsage(usage, out);
      if (!merged.ok()) {
        return std::move(merged).error();
      }
      return out;
    }
    case Api::kOpenAIChat:
      return OpenAIUsage(usage, "prompt_tokens", "prompt_tokens_details", "completion_tokens",
                         "completion_tokens_details");
    case Api::kOpenAIResponses:
      return OpenAIUsage(usage, "input_tokens", "input_tokens_details", "output_tokens",
                         "output_tokens_details");
  }
  return InvalidArgument("unknown API");
}

Result<ResponseUsage> UsageFromResponseBody(Api api, std::string_view body) {
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return InvalidArgument(std::string(ApiName(api)) + " response is not a JSON object");
  }
  const auto it = parsed.find("usage");
  if (it == parsed.end() || !it->is_object()) {
    return InvalidArgument(std::string(ApiName(api)) + " response has no usage object");
  }
  auto usage = NormaliseUsage(api, *it);
  if (!usage.ok()) {
    return std::move(usage).error();
  }
  ResponseUsage out{*usage, ""};
  if (const auto model = parsed.find("model"); model != parsed.end() && model->is_string()) {
    out.model = model->get<std::string>();
  }
  return out;
}

int64_t EstimateTokensFromBytes(size_t bytes) { return static_cast<int64_t>((bytes + 3) / 4); }

}  // namespace agentbudget::core
