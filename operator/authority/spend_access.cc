#include "operator/authority/spend_access.h"

#include <openssl/sha.h>

#include <nlohmann/json.hpp>

namespace agentbudget::authority {
namespace {

using nlohmann::json;

const kube::GroupVersionResource kTokenReviews{"authentication.k8s.io", "v1", "tokenreviews",
                                               false};
const kube::GroupVersionResource kSubjectAccessReviews{"authorization.k8s.io", "v1",
                                                       "subjectaccessreviews", false};

std::vector<std::string> Strings(const json& value) {
  std::vector<std::string> out;
  if (value.is_array()) {
    for (const json& item : value) {
      if (item.is_string()) {
        out.push_back(item.get<std::string>());
      }
    }
  }
  return out;
}

// The member `key` of `object` when both have the expected shapes; `fallback` otherwise
// (answers of the API server are read defensively: a malformed one must not throw).
json Member(const json& object, const char* key, json fallback) {
  if (!object.is_object() || !object.contains(key) ||
      object[key].type() != fallback.type()) {
    return fallback;
  }
  return object[key];
}

// The reader's identity as one cache key: every field, unambiguously separated.
std::string IdentityKey(const SpendReader& reader, const std::string& ns) {
  return json({reader.username, reader.uid, reader.groups, reader.extra, ns}).dump();
}

}  // namespace

SpendAccess::SpendAccess(kube::Client& client, const Clock& clock, Options options)
    : client_(client),
      clock_(clock),
      readers_(options.ttl, options.max_tokens),
      decisions_(options.ttl, options.max_decisions) {}

Result<SpendReader> SpendAccess::Authenticate(const std::string& token) {
  if (token.empty() || token.size() > 16384) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "missing Authorization: Bearer <token> (any token the API server accepts, "
                     "e.g. kubectl create token)");
  }
  Digest digest;
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest.data());
  {
    MutexLock lock(mu_);
    if (auto cached = readers_.Get(digest, clock_.Monotonic())) {
      return std::move(*cached);
    }
  }
  auto reader = Review(token);
  if (!reader.ok()) {
    return reader;
  }
  MutexLock lock(mu_);
  readers_.Put(digest, *reader, clock_.Monotonic());
  return reader;
}

Result<SpendReader> SpendAccess::Review(const std::string& token) {
  // No audiences: the API server's own, as for any token kubectl uses.
  const json review = {{"apiVersion", "authentication.k8s.io/v1"},
                       {"kind", "TokenReview"},
                       {"spec", {{"token", token}}}};
  auto answer = client_.Create(kTokenReviews, "", review);
  if (!answer.ok()) {
    return Unavailable("TokenReview failed: " + answer.error().message);
  }
  const json status = Member(*answer, "status", json::object());
  if (!Member(status, "authenticated", false).get<bool>()) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "token rejected: " +
                         Member(status, "error", "not authenticated").get<std::string>());
  }
  const json user = Member(status, "user", json::object());
  SpendReader reader;
  reader.username = Member(user, "username", "").get<std::string>();
  reader.uid = Member(user, "uid", "").get<std::string>();
  reader.groups = Strings(Member(user, "groups", json::array()));
  const json extra = Member(user, "extra", json::object());
  for (const auto& [key, values] : extra.items()) {
    reader.extra[key] = Strings(values);
  }
  if (reader.username.empty()) {
    return MakeError(ErrorCode::kUnauthenticated, "token names no user");
  }
  return reader;
}

Result<bool> SpendAccess::MayRead(const SpendReader& reader, const std::string& ns) {
  const std::string key = IdentityKey(reader, ns);
  {
    MutexLock lock(mu_);
    if (auto cached = decisions_.Get(key, clock_.Monotonic())) {
      return *cached;
    }
  }
  auto allowed = Ask(reader, ns);
  if (!allowed.ok()) {
    return allowed;
  }
  MutexLock lock(mu_);
  decisions_.Put(key, *allowed, clock_.Monotonic());
  return allowed;
}

Result<bool> SpendAccess::Ask(const SpendReader& reader, const std::string& ns) {
  json spec = {{"user", reader.username},
               {"groups", reader.groups},
               {"resourceAttributes",
                {{"verb", "get"}, {"group", "agentbudget.io"}, {"resource", "spend"},
                 {"namespace", ns}}}};
  if (!reader.uid.empty()) {
    spec["uid"] = reader.uid;
  }
  if (!reader.extra.empty()) {
    spec["extra"] = reader.extra;
  }
  const json review = {{"apiVersion", "authorization.k8s.io/v1"},
                       {"kind", "SubjectAccessReview"},
                       {"spec", std::move(spec)}};
  auto answer = client_.Create(kSubjectAccessReviews, "", review);
  if (!answer.ok()) {
    return Unavailable("SubjectAccessReview failed: " + answer.error().message);
  }
  return Member(Member(*answer, "status", json::object()), "allowed", false).get<bool>();
}

size_t SpendAccess::cached_tokens() const {
  MutexLock lock(mu_);
  return readers_.size();
}

size_t SpendAccess::cached_decisions() const {
  MutexLock lock(mu_);
  return decisions_.size();
}

}  // namespace agentbudget::authority
