#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/result.h"
#include "kube/config.h"
#include "kube/rate_limiter.h"
#include "kube/resource.h"
#include "kube/transport.h"
#include "kube/watch.h"

namespace agentbudget::kube {

struct ListOptions {
  std::string label_selector;    // "app=x,tier!=db"
  std::string field_selector;    // "metadata.name=x"
  int64_t limit = 0;             // page size; 0: everything in one response
  std::string continue_token;    // from the previous page
  std::string resource_version;  // "" (consistent read), "0" (any, from the watch cache)
};

struct ObjectList {
  // Every item carries kind and apiVersion (the API server leaves them out of list items).
  std::vector<nlohmann::json> items;
  std::string resource_version;  // of the list: start a watch from here
  std::string continue_token;    // "" on the last page
};

struct DeleteOptions {
  std::string propagation_policy;             // "", "Foreground", "Background", "Orphan"
  std::string precondition_uid;               // delete only this incarnation
  std::string precondition_resource_version;  // delete only this version
  std::optional<int64_t> grace_period_seconds;
};

enum class PatchType {
  kMerge,           // application/merge-patch+json (RFC 7386)
  kJsonPatch,       // application/json-patch+json (RFC 6902)
  kStrategicMerge,  // built-in types only
  kApply,           // server-side apply: requires field_manager
};

struct PatchOptions {
  std::string field_manager;  // required for kApply
  bool force = false;         // kApply: take ownership of conflicting fields
  std::string subresource;    // "" or "status"
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;  // resume point: events after this version
  bool allow_bookmarks = true;
  // The server ends the watch after this long; the client's inactivity timeout on the
  // stream is this (beyond 5 minutes rounded up to a multiple of 5 minutes) plus
  // `ClientOptions::watch_timeout_margin`, so the server always ends first.
  std::chrono::seconds timeout{300};
};

struct ClientOptions {
  double qps = 50;  // client-side request rate limit (token bucket)
  int burst = 100;
  std::chrono::milliseconds request_timeout{30000};
  std::chrono::milliseconds watch_timeout_margin{60000};
  // Retries: 429 (any verb: the server did not act on the request) and, for GETs only,
  // connection failures and 5xx. Waits Retry-After when given (capped at max_retry_wait),
  // otherwise 100 ms doubling.
  int max_retries = 5;
  std::chrono::milliseconds max_retry_wait{10000};
  std::string user_agent = "agentbudget";
  const Clock* clock = &SystemClock::Instance();  // for the rate limiter
};

// A client for any resource on one API server, over nlohmann::json objects. Thread-safe;
// share one per process. Every call blocks the calling thread (never call from a
// cpprestsdk continuation). Errors follow ErrorFromResponse (kube/errors.h) for HTTP
// errors and the Transport contract for connection errors.
class Client {
 public:
  // `bearer_token` and `bearer_token_file` as in RestConfig (the file wins when both are
  // set). Streams returned by Watch() must not outlive the client.
  Client(std::shared_ptr<Transport> transport, std::string bearer_token,
         std::string bearer_token_file, ClientOptions options = {});

  // A client on cpprestsdk for `config`. Fails when the transport cannot be set up.
  static Result<std::unique_ptr<Client>> Create(const RestConfig& config,
                                                ClientOptions options = {});

  // `ns` is ignored for cluster-scoped resources.
  Result<nlohmann::json> Get(const GroupVersionResource& gvr, std::string_view ns,
                             std::string_view name, std::string_view subresource = "");
  // One page (or everything when options.limit is 0).
  Result<ObjectList> List(const GroupVersionResource& gvr, std::string_view ns,
                          const ListOptions& options = {});
  // All pages, following continue tokens; `page_size` items per request. If the
  // continuation expires mid-way (410), the list restarts from the beginning once.
  Result<ObjectList> ListAll(const GroupVersionResource& gvr, std::string_view ns,
                             ListOptions options = {}, int64_t page_size = 500);
  // The namespace of a namespaced object is `ns`; the object's own metadata.namespace, if
  // set, must agree (the server checks).
  Result<nlohmann::json> Create(const GroupVersionResource& gvr, std::string_view ns,
                                const nlohmann::json& object);
  // PUT of the whole object; metadata.resourceVersion makes it conditional (kConflict
  // when stale). REQUIRES: metadata.name set.
  Result<nlohmann::json> Update(const GroupVersionResource& gvr, std::string_view ns,
                                const nlohmann::json& object);
  Result<nlohmann::json> UpdateStatus(const GroupVersionResource& gvr, std::string_view ns,
                                      const nlohmann::json& object);
  Status Delete(const GroupVersionResource& gvr, std::string_view ns, std::string_view name,
                const DeleteOptions& options = {});
  Result<nlohmann::json> Patch(const GroupVersionResource& gvr, std::string_view ns,
                               std::string_view name, PatchType type,
                               const nlohmann::json& patch, const PatchOptions& options = {});
  // Starts a watch; returns once the server accepted it. An HTTP error (410 when the
  // resourceVersion is too old) maps as usual. The caller owns the stream.
  Result<std::unique_ptr<WatchStream>> Watch(const GroupVersionResource& gvr,
                                             std::string_view ns, const WatchOptions& options);

  // A raw request through the client's auth, rate limit and retry policy. Non-2xx
  // statuses are errors. For paths this class does not build (discovery, /healthz).
  Result<HttpResponse> Raw(HttpRequest request);

 private:
  Result<HttpResponse> Do(HttpRequest request, bool safe_to_retry);
  Result<nlohmann::json> DoJson(HttpRequest request, bool safe_to_retry);
  Status Authorize(HttpRequest& request) EXCLUDES(token_mu_);

  std::shared_ptr<Transport> transport_;
  const ClientOptions options_;
  TokenBucket limiter_;
  const std::string static_token_;
  const std::string token_file_;
  Mutex token_mu_;
  std::string file_token_ GUARDED_BY(token_mu_);
  std::filesystem::file_time_type token_mtime_ GUARDED_BY(token_mu_) = {};
};

}  // namespace agentbudget::kube
