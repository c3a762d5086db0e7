#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/mutex.h"
#include "kube/transport.h"

namespace agentbudget::authority::testing {

// The API server as the authority asks it: TokenReviews (tokens it knows name their user;
// it records the audiences asked for), SubjectAccessReviews (a user may get
// spend.agentbudget.io in the namespaces granted to it, everywhere when granted ""), and
// GETs of objects put by path. Counts requests by resource. Thread-safe.
class FakeApiServer final : public kube::Transport {
 public:
  void AddToken(const std::string& token, const std::string& user) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    tokens_[token] = user;
  }
  // Lets `user` get spend in `ns` ("" = every namespace).
  void Grant(const std::string& user, const std::string& ns) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    grants_.insert({user, ns});
  }
  void Put(const std::string& path, nlohmann::json object) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    objects_[path] = std::move(object);
  }
  void Remove(const std::string& path) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    objects_.erase(path);
  }
  // Requests so far whose path ends with `resource` ("tokenreviews", "secrets/x", ...).
  int Requests(const std::string& resource) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return requests_[resource];
  }
  nlohmann::json last_token_review() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return last_token_review_;
  }

  Result<kube::HttpResponse> Send(const kube::HttpRequest& request) override EXCLUDES(mu_) {
    MutexLock lock(mu_);
    const std::string path = request.path.substr(0, request.path.find('?'));
    for (const char* resource : {"tokenreviews", "subjectaccessreviews"}) {
      if (path.ends_with(resource)) {
        ++requests_[resource];
      }
    }
    if (request.method == "POST" && path.ends_with("/tokenreviews")) {
      last_token_review_ = nlohmann::json::parse(request.body);
      const std::string token = last_token_review_["spec"].value("token", "");
      auto user = tokens_.find(token);
      nlohmann::json status = {{"authenticated", user != tokens_.end()}};
      if (user != tokens_.end()) {
        status["user"] = {{"username", user->second},
                          {"groups", {"system:authenticated"}},
                          {"extra", {{"scope", {"a"}}}}};
      } else {
        status["error"] = "invalid bearer token";
      }
      return Ok({{"status", status}});
    }
    if (request.method == "POST" && path.ends_with("/subjectaccessreviews")) {
      const nlohmann::json spec = nlohmann::json::parse(request.body)["spec"];
      const std::string user = spec.value("user", "");
      const std::string ns = spec["resourceAttributes"].value("namespace", "");
      const bool spend = spec["resourceAttributes"].value("verb", "") == "get" &&
                         spec["resourceAttributes"].value("group", "") == "agentbudget.io" &&
                         spec["resourceAttributes"].value("resource", "") == "spend";
      const bool allowed =
          spend && (grants_.contains({user, ""}) || (!ns.empty() && grants_.contains({user, ns})));
      return Ok({{"status", {{"allowed", allowed}}}});
    }
    ++requests_[path];
    auto found = objects_.find(path);
    if (request.method == "GET" && found != objects_.end()) {
      return Ok(found->second);
    }
    const nlohmann::json status = {{"kind", "Status"}, {"reason", "NotFound"}, {"code", 404}};
    return kube::HttpResponse{404, {}, status.dump()};
  }
  Result<std::unique_ptr<kube::ResponseStream>> Open(const kube::HttpRequest&) override {
    return Unavailable("no watches here");
  }

 private:
  static kube::HttpResponse Ok(const nlohmann::json& body) { return {200, {}, body.dump()}; }

  Mutex mu_;
  std::map<std::string, std::string> tokens_ GUARDED_BY(mu_);
  std::set<std::pair<std::string, std::string>> grants_ GUARDED_BY(mu_);
  std::map<std::string, nlohmann::json> objects_ GUARDED_BY(mu_);
  std::map<std::string, int> requests_ GUARDED_BY(mu_);
  nlohmann::json last_token_review_ GUARDED_BY(mu_);
};

}  // namespace agentbudget::authority::testing
