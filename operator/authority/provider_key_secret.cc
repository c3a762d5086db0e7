#include "operator/authority/provider_key_secret.h"

#include <cctype>

#include "common/base64.h"
#include "kube/resource.h"

namespace agentbudget::authority {
namespace {

// The decoded value of the Secret's data key without trailing whitespace (a key file
// written with a newline); "" when absent or not base64.
std::string Value(const nlohmann::json& secret, const char* key) {
  const auto pointer = nlohmann::json::json_pointer(std::string("/data/") + key);
  if (!secret.contains(pointer) || !secret[pointer].is_string()) {
    return "";
  }
  auto decoded = base64::Decode(secret[pointer].get<std::string>());
  if (!decoded.ok()) {
    return "";
  }
  std::string value = std::move(*decoded);
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) {
    value.pop_back();
  }
  return value;
}

}  // namespace

ProviderKeySecret::ProviderKeySecret(kube::Client& client, const Clock& clock, Options options)
    : client_(client), clock_(clock), options_(std::move(options)) {}

Result<ProviderKeys> ProviderKeySecret::Keys() {
  {
    MutexLock lock(mu_);
    if (cached_ && clock_.Monotonic() < expires_) {
      return *cached_;
    }
  }
  const std::string where = "Secret " + options_.namespace_name + "/" + options_.name;
  auto secret = client_.Get(kube::resources::kSecrets, options_.namespace_name, options_.name);
  if (!secret.ok()) {
    if (secret.error().code == ErrorCode::kNotFound) {
      return Unavailable(where + " does not exist: create it with the keys anthropic-api-key "
                                 "and/or openai-api-key");
    }
    return Unavailable("reading " + where + ": " + secret.error().message);
  }
  ProviderKeys keys{Value(*secret, "anthropic-api-key"), Value(*secret, "openai-api-key")};
  if (keys.anthropic_api_key.empty() && keys.openai_api_key.empty()) {
    return Unavailable(where + " holds neither anthropic-api-key nor openai-api-key");
  }
  MutexLock lock(mu_);
  cached_ = keys;
  expires_ = clock_.Monotonic() + options_.ttl;
  return keys;
}

}  // namespace agentbudget::authority
