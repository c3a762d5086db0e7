#include "kube/errors.h"

#include <charconv>
#include <nlohmann/json.hpp>

namespace agentbudget::kube {
namespace {

using nlohmann::json;

std::chrono::milliseconds RetryAfter(const HttpResponse& response, const json& status) {
  if (auto it = response.headers.find("retry-after"); it != response.headers.end()) {
    int seconds = 0;
    const std::string& value = it->second;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc() && seconds > 0) {
      return std::chrono::seconds(seconds);
    }
  }
  if (status.is_object()) {
    const json* details = status.contains("details") ? &status["details"] : nullptr;
    if (details != nullptr && details->is_object() && details->contains("retryAfterSeconds") &&
        (*details)["retryAfterSeconds"].is_number_integer()) {
      return std::chrono::seconds((*details)["retryAfterSeconds"].get<int>());
    }
  }
  return std::chrono::milliseconds{0};
}

std::string Causes(const json& status) {
  std::string out;
  if (!status.contains("details") || !status["details"].is_object()) {
    return out;
  }
  const json& causes = status["details"].value("causes", json::array());
  if (!causes.is_array()) {
    return out;
  }
  for (const json& cause : causes) {
    if (!cause.is_object()) {
      continue;
    }
    out += out.empty() ? " [" : "; ";
    std::string field = cause.value("field", "");
    out += field.empty() ? "" : field + ": ";
    out += cause.value("message", cause.value("reason", ""));
  }
  if (!out.empty()) {
    out += "]";
  }
  return out;
}

// Kubernetes refines the HTTP status with the Status reason.
ErrorCode CodeFor(int http_status, const std::string& reason) {
  if (reason == "Timeout" || reason == "ServerTimeout") {
    return ErrorCode::kDeadlineExceeded;
  }
  if (http_status == 409 && reason == "AlreadyExists") {
    return ErrorCode::kAlreadyExists;
  }
  return ErrorCodeForHttpStatus(http_status);
}

}  // namespace

std::string StatusReason(std::string_view body) {
  json status = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!status.is_object() || status.value("kind", "") != "Status") {
    return "";
  }
  return status.value("reason", "");
}

Error ErrorFromResponse(const HttpResponse& response) {
  json status = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  bool is_status = status.is_object() && status.value("kind", "") == "Status";
  std::string reason = is_status && status["reason"].is_string() ? status["reason"].get<std::string>() : "";
  std::string message = is_status && status["message"].is_string()
                            ? status["message"].get<std::string>()
                            : response.body.substr(0, 512);
  Error error = MakeError(CodeFor(response.status, reason),
                          (reason.empty() ? "HTTP " + std::to_string(response.status)
                                          : reason + " (HTTP " + std::to_string(response.status) + ")") +
                              ": " + message + (is_status ? Causes(status) : ""));
  error.retry_after = RetryAfter(response, is_status ? status : json());
  return error;
}

}  // namespace agentbudget::kube
