#include "meter/http_authority_client.h"

#include <cpprest/http_client.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <exception>
#include <fstream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

namespace agentbudget::meter {
namespace {

using nlohmann::json;
namespace http = web::http;

std::string ReadToken(const std::string& path) {
  if (path.empty()) {
    return "";
  }
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  std::string token = text.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  return token;
}

std::string Str(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Whether `pem` holds at least one PEM certificate.
bool HoldsCertificates(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (bio == nullptr) {
    return false;
  }
  std::unique_ptr<X509, decltype(&X509_free)> first(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  return first != nullptr;
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

bool IsTrue(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace

struct HttpAuthorityClient::Impl {
  Options options;
  std::unique_ptr<http::client::http_client> client;

  // POSTs `body` to `path`; returns the parsed 200 body or the protocol error.
  Result<json> Post(const std::string& path, const json& body) {
    return Call(http::methods::POST, path, &body);
  }

  // Sends `method` to `path` with `body` (none when null); returns the parsed 200 body or
  // the protocol error.
  Result<json> Call(const http::method& method, const std::string& path, const json* body) {
    try {
      http::http_request request(method);
      request.set_request_uri(utility::conversions::to_string_t(path));
      if (body != nullptr) {
        request.set_body(body->dump(), "application/json");
      }
      if (const std::string token = ReadToken(options.token_file); !token.empty()) {
        request.headers().add(http::header_names::authorization, "Bearer " + token);
      }
      http::http_response response = client->request(request).get();
      const std::string text = response.extract_utf8string(true).get();
      json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (response.status_code() != http::status_codes::OK) {
        std::string message = text.substr(0, 512);
        if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object() &&
            !Str(parsed["error"], "message").empty()) {
          message = Str(parsed["error"], "message");
        }
        return MakeError(ErrorCodeForHttpStatus(response.status_code()),
                         "authority " + path + ": HTTP " +
                             std::to_string(response.status_code()) + ": " + message);
      }
      if (!parsed.is_object()) {
        return Internal("authority " + path + ": answer is not a JSON object");
      }
      return parsed;
    } catch (const http::http_exception& e) {
      const bool timeout = e.error_code() == std::errc::timed_out;
      return MakeError(timeout ? ErrorCode::kDeadlineExceeded : ErrorCode::kUnavailable,
                       "authority " + path + ": " + e.what());
    } catch (const std::exception& e) {
      return Unavailable("authority " + path + ": " + e.what());
    }
  }
};

HttpAuthorityClient::HttpAuthorityClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpAuthorityClient::~HttpAuthorityClient() = default;

Result<std::unique_ptr<HttpAuthorityClient>> HttpAuthorityClient::Create(Options options) {
  auto impl = std::make_unique<Impl>();
  try {
    http::client::http_client_config config;
    config.set_timeout(std::chrono::duration_cast<std::chrono::seconds>(options.timeout).count() > 0
                           ? options.timeout
                           : std::chrono::milliseconds(1000));
    if (!options.ca_file.empty() && !HoldsCertificates(ReadFile(options.ca_file))) {
      return InvalidArgument("authority CA file " + options.ca_file +
                             " holds no PEM certificate");
    }
    if (!options.ca_pem.empty() && !HoldsCertificates(options.ca_pem)) {
      return InvalidArgument(
          "the authority CA (AGENTBUDGET_AUTHORITY_CA) holds no PEM certificate");
    }
    if (!options.ca_file.empty() || !options.ca_pem.empty()) {
      config.set_ssl_context_callback([file = options.ca_file, pem = options.ca_pem](
                                          boost::asio::ssl::context& context) {
        if (!file.empty()) {
          context.load_verify_file(file);
        }
        if (!pem.empty()) {
          context.add_certificate_authority(boost::asio::buffer(pem));
        }
      });
    }
    impl->client = std::make_unique<http::client::http_client>(
        utility::conversions::to_string_t(options.base_url), config);
  } catch (const std::exception& e) {
    return InvalidArgument("authority url \"" + options.base_url + "\": " + e.what());
  }
  impl->options = std::move(options);
  return std::unique_ptr<HttpAuthorityClient>(new HttpAuthorityClient(std::move(impl)));
}

Result<Reservation> HttpAuthorityClient::Reserve(const ReserveRequest& request) {
  auto answer = impl_->Post("/v1/reservations",
                            json{{"idempotencyKey", request.idempotency_key},
                                 {"provider", request.provider},
                                 {"model", request.model},
                                 {"estimate",
                                  {{"cost", request.estimate_cost.ToString()},
                                   {"tokens", request.estimate_tokens}}}});
  if (!answer.ok()) {
    return answer.error();
  }
  const json& a = *answer;
  Reservation out;
  out.id = Str(a, "id");
  const std::string decision = Str(a, "decision");
  if (decision == "allow") {
    out.decision = Decision::kAllow;
  } else if (decision == "degrade") {
    out.decision = Decision::kDegrade;
  } else if (decision == "deny") {
    out.decision = Decision::kDeny;
  } else {
    return Internal("authority reservation: unknown decision \"" + decision + "\"");
  }
  out.model = Str(a, "model").empty() ? request.model : Str(a, "model");
  out.reason = Str(a, "reason");
  if (out.id.empty() && out.decision != Decision::kDeny) {
    return Internal("authority reservation: answer has no id");
  }
  return out;
}

Status HttpAuthorityClient::Commit(const CommitRequest& request) {
  auto answer = impl_->Post("/v1/reservations/" + request.reservation_id + "/commit",
                            json{{"idempotencyKey", request.idempotency_key},
                                 {"model", request.model},
                                 {"usage", core::UsageToJson(request.usage)},
                                 {"cost", request.cost.ToString()},
                                 {"estimated", request.estimated}});
  if (!answer.ok()) {
    return answer.error();
  }
  if (!IsTrue(*answer, "committed")) {
    return Internal("authority commit: answer does not say committed");
  }
  return OkStatus();
}

Status HttpAuthorityClient::Release(const std::string& reservation_id,
                                    const std::string& idempotency_key) {
  auto answer = impl_->Post("/v1/reservations/" + reservation_id + "/release",
                            json{{"idempotencyKey", idempotency_key}});
  if (!answer.ok()) {
    return answer.error();
  }
  return OkStatus();
}

Status HttpAuthorityClient::RecordEvent(const EventRequest& request) {
  auto answer = impl_->Post("/v1/events", json{{"idempotencyKey", request.idempotency_key},
                                               {"kind", request.kind},
                                               {"cost", request.cost.ToString()},
                                               {"tokens", request.tokens},
                                               {"description", request.description}});
  if (!answer.ok()) {
    return answer.error();
  }
  if (!IsTrue(*answer, "committed")) {
    return Internal("authority event: answer does not say committed");
  }
  return OkStatus();
}

Result<ProviderCredentials> HttpAuthorityClient::FetchCredentials() {
  auto answer = impl_->Call(http::methods::GET, "/v1/credentials", nullptr);
  if (!answer.ok()) {
    return answer.error();
  }
  return ProviderCredentials{Str(*answer, "anthropicApiKey"), Str(*answer, "openaiApiKey")};
}

}  // namespace agentbudget::meter
