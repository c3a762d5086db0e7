#include "operator/authority/codec.h"

#include <nlohmann/json.hpp>

#include "core/money.h"
#include "core/run_envelope.h"
#include "operator/authority/workload_spend.h"

namespace agentbudget::authority {
namespace {

using nlohmann::json;

constexpr size_t kMaxString = 256;

Result<json> ParseObject(std::string_view body) {
  json value = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    return InvalidArgument("body is not valid JSON");
  }
  if (!value.is_object()) {
    return InvalidArgument("body must be a JSON object");
  }
  return value;
}

uint64_t Hash(const json& body) { return core::Fingerprint(body.dump()); }

// A string field; `required` fields must be present and non-empty.
Result<std::string> Text(const json& body, const char* field, bool required) {
  auto found = body.find(field);
  if (found == body.end() || found->is_null()) {
    if (required) {
      return InvalidArgument(std::string(field) + " is required");
    }
    return std::string();
  }
  if (!found->is_string()) {
    return InvalidArgument(std::string(field) + " must be a string");
  }
  std::string text = found->get<std::string>();
  if ((required && text.empty()) || text.size() > kMaxString) {
    return InvalidArgument(std::string(field) + " must be 1.." + std::to_string(kMaxString) +
                           " characters");
  }
  return text;
}

// A decimal money string ("0.0425"); absent is zero.
Result<int64_t> Amount(const json& body, const char* field) {
  auto found = body.find(field);
  if (found == body.end() || found->is_null()) {
    return int64_t{0};
  }
  if (!found->is_string()) {
    return InvalidArgument(std::string(field) + " must be a decimal string such as \"0.0425\"");
  }
  auto money = core::Money::Parse(found->get<std::string>());
  if (!money.ok()) {
    return InvalidArgument(std::string(field) + ": " + money.error().message);
  }
  if (money->micros() < 0) {
    return InvalidArgument(std::string(field) + " must not be negative");
  }
  return money->micros();
}

Result<int64_t> Count(const json& body, const char* field) {
  auto found = body.find(field);
  if (found == body.end() || found->is_null()) {
    return int64_t{0};
  }
  if (!found->is_number_integer() || found->get<int64_t>() < 0) {
    return InvalidArgument(std::string(field) + " must be a non-negative integer");
  }
  return found->get<int64_t>();
}

#define ASSIGN_OR_RETURN(target, expression) \
  do {                                       \
    auto result_ = (expression);             \
    if (!result_.ok()) {                     \
      return std::move(result_).error();     \
    }                                        \
    target = std::move(*result_);            \
  } while (false)

// What every request body shares: a JSON object with an idempotencyKey, fingerprinted
// whole. `fields` reads the rest into the request.
template <typename Request, typename Fields>
Result<Request> DecodeObject(const json& body, Fields fields) {
  if (!body.is_object()) {
    return InvalidArgument("body must be a JSON object");
  }
  Request request;
  ASSIGN_OR_RETURN(request.idempotency_key, Text(body, "idempotencyKey", true));
  if (Status read = fields(body, request); !read.ok()) {
    return std::move(read).error();
  }
  request.request_hash = Hash(body);
  return request;
}

template <typename Request, typename Fields>
Result<Request> Decode(std::string_view text, Fields fields) {
  json body;
  ASSIGN_OR_RETURN(body, ParseObject(text));
  return DecodeObject<Request>(body, fields);
}

// The fields of a commit, after its idempotencyKey.
Status CommitFields(const json& body, CommitRequest& request) {
  ASSIGN_OR_RETURN(request.model, Text(body, "model", false));
  ASSIGN_OR_RETURN(request.cost_micros, Amount(body, "cost"));
  auto usage = body.find("usage");
  if (usage == body.end() || usage->is_null()) {
    return OkStatus();
  }
  if (!usage->is_object()) {
    return InvalidArgument("usage must be an object of token counts");
  }
  // Reasoning tokens are part of output (OpenAI reports them inside output_tokens), so
  // "reasoning" is validated but not added.
  TokenCounts& types = request.token_types;
  ASSIGN_OR_RETURN(types.input, Count(*usage, "input"));
  ASSIGN_OR_RETURN(types.cache_read, Count(*usage, "cacheRead"));
  ASSIGN_OR_RETURN(types.cache_write_5m, Count(*usage, "cacheWrite5m"));
  ASSIGN_OR_RETURN(types.cache_write_1h, Count(*usage, "cacheWrite1h"));
  ASSIGN_OR_RETURN(types.output, Count(*usage, "output"));
  if (auto reasoning = Count(*usage, "reasoning"); !reasoning.ok()) {
    return std::move(reasoning).error();
  }
  request.input_tokens = core::SaturatingAdd(
      core::SaturatingAdd(types.input, types.cache_read),
      core::SaturatingAdd(types.cache_write_5m, types.cache_write_1h));
  request.output_tokens = types.output;
  request.tokens = core::SaturatingAdd(request.input_tokens, request.output_tokens);
  return OkStatus();
}

// The fields of an event, after its idempotencyKey.
Status EventFields(const json& body, EventRequest& request) {
  ASSIGN_OR_RETURN(request.kind, Text(body, "kind", true));
  if (request.kind.starts_with(kOutcomeReport)) {
    // A run's outcome is the operator's to record: a pod could otherwise report success.
    return InvalidArgument(std::string("kind \"") + kOutcomeReport +
                           "…\" is reserved for the operator");
  }
  ASSIGN_OR_RETURN(request.cost_micros, Amount(body, "cost"));
  ASSIGN_OR_RETURN(request.tokens, Count(body, "tokens"));
  return OkStatus();
}

// The fields of a reservation, after its idempotencyKey.
Status ReserveFields(const json& body, ReserveRequest& request) {
  ASSIGN_OR_RETURN(request.provider, Text(body, "provider", false));
  ASSIGN_OR_RETURN(request.model, Text(body, "model", true));
  auto estimate = body.find("estimate");
  if (estimate == body.end() || !estimate->is_object()) {
    return InvalidArgument("estimate must be an object {cost, tokens}");
  }
  ASSIGN_OR_RETURN(request.estimate_micros, Amount(*estimate, "cost"));
  ASSIGN_OR_RETURN(request.estimate_tokens, Count(*estimate, "tokens"));
  if (auto ahead = body.find("ahead"); ahead != body.end()) {
    if (!ahead->is_boolean()) {
      return InvalidArgument("ahead must be true or false");
    }
    request.ahead = ahead->get<bool>();
  }
  return OkStatus();
}

}  // namespace

Result<ReserveRequest> DecodeReserve(std::string_view text) {
  return Decode<ReserveRequest>(text, ReserveFields);
}

Result<ReserveRequest> DecodeReserveObject(const nlohmann::json& body) {
  return DecodeObject<ReserveRequest>(body, ReserveFields);
}

Result<ReleaseRequest> DecodeRelease(std::string_view text) {
  return Decode<ReleaseRequest>(text, [](const json&, ReleaseRequest&) { return OkStatus(); });
}

Result<CommitRequest> DecodeCommit(std::string_view text) {
  return Decode<CommitRequest>(text, CommitFields);
}

Result<CommitRequest> DecodeCommitObject(const nlohmann::json& body) {
  return DecodeObject<CommitRequest>(body, CommitFields);
}

Result<EventRequest> DecodeEvent(std::string_view text) {
  return Decode<EventRequest>(text, EventFields);
}

Result<EventRequest> DecodeEventObject(const nlohmann::json& body) {
  return DecodeObject<EventRequest>(body, EventFields);
}

}  // namespace agentbudget::authority
