#include "kube/client.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "kube/errors.h"

namespace agentbudget::kube {
namespace {

using nlohmann::json;

void AddParam(std::string& query, std::string_view name, std::string_view value) {
  if (value.empty()) {
    return;
  }
  query += query.empty() ? '?' : '&';
  query += name;
  query += '=';
  query += QueryEscape(value);
}

std::string ListQuery(const ListOptions& options) {
  std::string query;
  AddParam(query, "labelSelector", options.label_selector);
  AddParam(query, "fieldSelector", options.field_selector);
  if (options.limit > 0) {
    AddParam(query, "limit", std::to_string(options.limit));
  }
  AddParam(query, "continue", options.continue_token);
  AddParam(query, "resourceVersion", options.resource_version);
  return query;
}

Result<json> ParseBody(const HttpResponse& response) {
  json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    return Internal("API server sent a body that is not JSON (HTTP " +
                    std::to_string(response.status) + ")");
  }
  return body;
}

std::string NameOf(const json& object) {
  if (object.is_object() && object.contains("metadata") && object["metadata"].is_object()) {
    return object["metadata"].value("name", "");
  }
  return "";
}

}  // namespace

Client::Client(std::shared_ptr<Transport> transport, std::string bearer_token,
               std::string bearer_token_file, ClientOptions options)
    : transport_(std::move(transport)),
      options_(std::move(options)),
      limiter_(options_.qps, options_.burst, *options_.clock),
      static_token_(std::move(bearer_token)),
      token_file_(std::move(bearer_token_file)) {}

Result<std::unique_ptr<Client>> Client::Create(const RestConfig& config, ClientOptions options) {
  Result<std::unique_ptr<Transport>> transport = NewCpprestTransport(config.transport);
  if (!transport.ok()) {
    return std::move(transport).error();
  }
  return std::make_unique<Client>(std::shared_ptr<Transport>(std::move(transport).value()),
                                  config.bearer_token, config.bearer_token_file,
                                  std::move(options));
}

Status Client::Authorize(HttpRequest& request) {
  if (!token_file_.empty()) {
    MutexLock lock(token_mu_);
    std::error_code ec;
    auto mtime = std::filesystem::last_write_time(token_file_, ec);
    if (ec) {
      if (file_token_.empty()) {
        return MakeError(ErrorCode::kUnauthenticated,
                         "cannot read token file '" + token_file_ + "': " + ec.message());
      }
    } else if (file_token_.empty() || mtime != token_mtime_) {
      // Re-read on change: the kubelet rotates projected service-account tokens.
      std::ifstream in(token_file_);
      std::stringstream text;
      text << in.rdbuf();
      std::string token = text.str();
      while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
        token.pop_back();
      }
      if (!token.empty()) {
        file_token_ = std::move(token);
        token_mtime_ = mtime;
      }
    }
    if (!file_token_.empty()) {
      request.headers["authorization"] = "Bearer " + file_token_;
      return OkStatus();
    }
  }
  if (!static_token_.empty()) {
    request.headers["authorization"] = "Bearer " + static_token_;
  }
  return OkStatus();
}

Result<HttpResponse> Client::Do(HttpRequest request, bool safe_to_retry) {
  request.headers["accept"] = "application/json";
  request.headers["user-agent"] = options_.user_agent;
  std::chrono::milliseconds backoff{100};
  for (int attempt = 0;; ++attempt) {
    if (Status auth = Authorize(request); !auth.ok()) {
      return std::move(auth).error();
    }
    if (auto wait = limiter_.Reserve(); wait.count() > 0) {
      std::this_thread::sleep_for(wait);  // rate limiting, not waiting for a condition
    }
    Result<HttpResponse> response = transport_->Send(request);
    Error error;
    bool retry = false;
    if (!response.ok()) {
      error = std::move(response).error();
      retry = safe_to_retry;
    } else if (response->status >= 200 && response->status < 300) {
      return response;
    } else {
      error = ErrorFromResponse(*response);
      retry = response->status == 429 ||
              (safe_to_retry && response->status >= 500 && response->status != 501);
    }
    if (!retry || attempt >= options_.max_retries) {
      return error;
    }
    std::chrono::milliseconds wait = error.retry_after.count() > 0
                                         ? std::min(error.retry_after, options_.max_retry_wait)
                                         : std::min(backoff, options_.max_retry_wait);
    backoff *= 2;
    std::this_thread::sleep_for(wait);  // the server asked us to wait (or backoff)
  }
}

Result<json> Client::DoJson(HttpRequest request, bool safe_to_retry) {
  Result<HttpResponse> response = Do(std::move(request), safe_to_retry);
  if (!response.ok()) {
    return std::move(response).error();
  }
  return ParseBody(*response);
}

Result<HttpResponse> Client::Raw(HttpRequest request) {
  bool safe = request.method == "GET";
  return Do(std::move(request), safe);
}

Result<json> Client::Get(const GroupVersionResource& gvr, std::string_view ns,
                         std::string_view name, std::string_view subresource) {
  if (name.empty()) {
    return InvalidArgument("get " + gvr.ToString() + ": name is empty");
  }
  HttpRequest request;
  request.path = gvr.ObjectPath(ns, name, subresource);
  request.timeout = options_.request_timeout;
  return DoJson(std::move(request), /*safe_to_retry=*/true);
}

Result<ObjectList> Client::List(const GroupVersionResource& gvr, std::string_view ns,
                                const ListOptions& options) {
  HttpRequest request;
  request.path = gvr.CollectionPath(ns) + ListQuery(options);
  request.timeout = options_.request_timeout;
  Result<json> body = DoJson(std::move(request), /*safe_to_retry=*/true);
  if (!body.ok()) {
    return std::move(body).error();
  }
  if (!body->is_object() || !body->contains("items") || !(*body)["items"].is_array()) {
    return Internal("list " + gvr.ToString() + ": response has no items array");
  }
  ObjectList list;
  json& metadata = (*body)["metadata"];
  if (metadata.is_object()) {
    list.resource_version = metadata.value("resourceVersion", "");
    list.continue_token = metadata.value("continue", "");
  }
  std::string kind = body->value("kind", "");
  if (kind.size() > 4 && kind.ends_with("List")) {
    kind.resize(kind.size() - 4);
  }
  std::string api_version = body->value("apiVersion", "");
  list.items.reserve((*body)["items"].size());
  for (json& item : (*body)["items"]) {
    if (item.is_object()) {
      if (!kind.empty() && !item.contains("kind")) {
        item["kind"] = kind;
      }
      if (!api_version.empty() && !item.contains("apiVersion")) {
        item["apiVersion"] = api_version;
      }
    }
    list.items.push_back(std::move(item));
  }
  return list;
}

Result<ObjectList> Client::ListAll(const GroupVersionResource& gvr, std::string_view ns,
                                   ListOptions options, int64_t page_size) {
  options.limit = page_size;
  options.continue_token.clear();
  ObjectList all;
  bool restarted = false;
  while (true) {
    Result<ObjectList> page = List(gvr, ns, options);
    if (!page.ok()) {
      if (page.error().code == ErrorCode::kGone && !options.continue_token.empty() &&
          !restarted) {
        // The continuation expired (compaction): start over with a fresh snapshot.
        restarted = true;
        all = ObjectList();
        options.continue_token.clear();
        continue;
      }
      return std::move(page).error();
    }
    for (json& item : page->items) {
      all.items.push_back(std::move(item));
    }
    if (all.resource_version.empty()) {
      all.resource_version = page->resource_version;
    }
    if (page->continue_token.empty()) {
      // The snapshot's version is the first page's; later pages report the same.
      return all;
    }
    options.continue_token = page->continue_token;
    // The continue token pins the snapshot; a resourceVersion with it is not allowed.
    options.resource_version.clear();
  }
}

Result<json> Client::Create(const GroupVersionResource& gvr, std::string_view ns,
                            const json& object) {
  HttpRequest request;
  request.method = "POST";
  request.path = gvr.CollectionPath(gvr.namespaced ? ns : "");
  if (gvr.namespaced && ns.empty()) {
    return InvalidArgument("create " + gvr.ToString() + ": namespace is empty");
  }
  request.body = object.dump();
  request.timeout = options_.request_timeout;
  return DoJson(std::move(request), /*safe_to_retry=*/false);
}

Result<json> Client::Update(const GroupVersionResource& gvr, std::string_view ns,
                            const json& object) {
  std::string name = NameOf(object);
  if (name.empty()) {
    return InvalidArgument("update " + gvr.ToString() + ": metadata.name is empty");
  }
  HttpRequest request;
  request.method = "PUT";
  request.path = gvr.ObjectPath(ns, name);
  request.body = object.dump();
  request.timeout = options_.request_timeout;
  return DoJson(std::move(request), /*safe_to_retry=*/false);
}

Result<json> Client::UpdateStatus(const GroupVersionResource& gvr, std::string_view ns,
                                  const json& object) {
  std::string name = NameOf(object);
  if (name.empty()) {
    return InvalidArgument("update status " + gvr.ToString() + ": metadata.name is empty");
  }
  HttpRequest request;
  request.method = "PUT";
  request.path = gvr.ObjectPath(ns, name, "status");
  request.body = object.dump();
  request.timeout = options_.request_timeout;
  return DoJson(std::move(request), /*safe_to_retry=*/false);
}

Status Client::Delete(const GroupVersionResource& gvr, std::string_view ns,
                      std::string_view name, const DeleteOptions& options) {
  if (name.empty()) {
    return InvalidArgument("delete " + gvr.ToString() + ": name is empty");
  }
  json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (!options.propagation_policy.empty()) {
    body["propagationPolicy"] = options.propagation_policy;
  }
  if (!options.precondition_uid.empty()) {
    body["preconditions"]["uid"] = options.precondition_uid;
  }
  if (!options.precondition_resource_version.empty()) {
    body["preconditions"]["resourceVersion"] = options.precondition_resource_version;
  }
  if (options.grace_period_seconds.has_value()) {
    body["gracePeriodSeconds"] = *options.grace_period_seconds;
  }
  HttpRequest request;
  request.method = "DELETE";
  request.path = gvr.ObjectPath(ns, name);
  request.body = body.dump();
  request.timeout = options_.request_timeout;
  Result<HttpResponse> response = Do(std::move(request), /*safe_to_retry=*/false);
  if (!response.ok()) {
    return std::move(response).error();
  }
  return OkStatus();
}

Result<json> Client::Patch(const GroupVersionResource& gvr, std::string_view ns,
                           std::string_view name, PatchType type, const json& patch,
                           const PatchOptions& options) {
  if (name.empty()) {
    return InvalidArgument("patch " + gvr.ToString() + ": name is empty");
  }
  HttpRequest request;
  request.method = "PATCH";
  std::string query;
  switch (type) {
    case PatchType::kMerge:
      request.headers["content-type"] = "application/merge-patch+json";
      break;
    case PatchType::kJsonPatch:
      if (!patch.is_array()) {
        return InvalidArgument("JSON patch for " + gvr.ToString() + " must be an array");
      }
      request.headers["content-type"] = "application/json-patch+json";
      break;
    case PatchType::kStrategicMerge:
      request.headers["content-type"] = "application/strategic-merge-patch+json";
      break;
    case PatchType::kApply:
      if (options.field_manager.empty()) {
        return InvalidArgument("server-side apply to " + gvr.ToString() +
                               " needs a field manager");
      }
      request.headers["content-type"] = "application/apply-patch+yaml";
      if (options.force) {
        AddParam(query, "force", "true");
      }
      break;
  }
  AddParam(query, "fieldManager", options.field_manager);
  request.path = gvr.ObjectPath(ns, name, options.subresource) + query;
  request.body = patch.dump();
  request.timeout = options_.request_timeout;
  return DoJson(std::move(request), /*safe_to_retry=*/false);
}

Result<std::unique_ptr<WatchStream>> Client::Watch(const GroupVersionResource& gvr,
                                                   std::string_view ns,
                                                   const WatchOptions& options) {
  std::string query = "?watch=1";
  AddParam(query, "labelSelector", options.label_selector);
  AddParam(query, "fieldSelector", options.field_selector);
  AddParam(query, "resourceVersion", options.resource_version);
  if (options.allow_bookmarks) {
    AddParam(query, "allowWatchBookmarks", "true");
  }
  AddParam(query, "timeoutSeconds", std::to_string(options.timeout.count()));
  HttpRequest request;
  request.path = gvr.CollectionPath(ns) + query;
  // The transport keeps one connection pool per inactivity timeout, so round long server
  // timeouts up to a multiple of five minutes: watches with jittered timeouts share a pool.
  constexpr int64_t kStep = 300;
  int64_t seconds = std::max<int64_t>(options.timeout.count(), 1);
  if (seconds > kStep) {
    seconds = (seconds + kStep - 1) / kStep * kStep;
  }
  request.timeout = std::chrono::seconds(seconds) + options_.watch_timeout_margin;
  request.headers["accept"] = "application/json";
  request.headers["user-agent"] = options_.user_agent;
  if (Status auth = Authorize(request); !auth.ok()) {
    return std::move(auth).error();
  }
  if (auto wait = limiter_.Reserve(); wait.count() > 0) {
    std::this_thread::sleep_for(wait);  // rate limiting, not waiting for a condition
  }
  Result<std::unique_ptr<ResponseStream>> stream = transport_->Open(request);
  if (!stream.ok()) {
    return std::move(stream).error();
  }
  int status = (*stream)->status();
  if (status < 200 || status >= 300) {
    // An error answer is short: read it whole to map it.
    HttpResponse response;
    response.status = status;
    response.headers = (*stream)->headers();
    char buffer[4096];
    while (response.body.size() < (1u << 20)) {
      Result<std::size_t> n = (*stream)->Read(buffer, sizeof buffer);
      if (!n.ok() || *n == 0) {
        break;
      }
      response.body.append(buffer, *n);
    }
    return ErrorFromResponse(response);
  }
  return std::make_unique<WatchStream>(std::move(stream).value());
}

}  // namespace agentbudget::kube
