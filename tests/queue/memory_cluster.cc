#include "tests/queue/memory_cluster.h"

#include <algorithm>
#include <cstring>


namespace agentbudget::queue::testing {
namespace {

using nlohmann::json;

kube::HttpResponse StatusResponse(int code, const std::string& reason,
                                  const std::string& message) {
  const json status = {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
                       {"reason", reason}, {"code", code},       {"message", message}};
  return {code, {{"content-type", "application/json"}}, status.dump()};
}

kube::HttpResponse JsonResponse(int code, const json& body) {
  return {code, {{"content-type", "application/json"}}, body.dump()};
}

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> segments;
  size_t start = 1;
  while (start <= path.size()) {
    const size_t slash = std::min(path.find('/', start), path.size());
    segments.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return segments;
}

std::string Query(const std::string& target, const std::string& name) {
  const size_t question = target.find('?');
  if (question == std::string::npos) {
    return "";
  }
  const std::string query = target.substr(question + 1);
  size_t start = 0;
  while (start < query.size()) {
    const size_t amp = std::min(query.find('&', start), query.size());
    const std::string pair = query.substr(start, amp - start);
    if (pair.starts_with(name + "=")) {
      return pair.substr(name.size() + 1);
    }
    start = amp + 1;
  }
  return "";
}

std::string KeyOf(const std::string& ns, const std::string& name) {
  return ns.empty() ? name : ns + "/" + name;
}

std::string KeyOf(const json& object) {
  const json& metadata = object["metadata"];
  return KeyOf(metadata.value("namespace", ""), metadata.value("name", ""));
}

}  // namespace

// A watch of one collection (one namespace, or all) from a resourceVersion on: the changes
// after it, as watch-event lines, blocking until there are some or it is cancelled.
class MemoryCluster::Stream final : public kube::ResponseStream {
 public:
  Stream(MemoryCluster& cluster, std::string collection, std::string ns, int64_t after)
      : cluster_(cluster), collection_(std::move(collection)), ns_(std::move(ns)), after_(after) {}

  int status() const override { return 200; }
  const kube::HttpHeaders& headers() const override { return headers_; }

  Result<std::size_t> Read(char* buffer, std::size_t capacity) override {
    MutexLock lock(cluster_.mu_);
    while (pending_.empty()) {
      if (cancelled_) {
        return Unavailable("watch cancelled");
      }
      for (const Change& change : cluster_.changes_) {
        if (change.version <= after_ || change.collection != collection_) {
          continue;
        }
        after_ = change.version;
        if (!ns_.empty() && change.object["metadata"].value("namespace", "") != ns_) {
          continue;
        }
        pending_ += json{{"type", change.type}, {"object", change.object}}.dump() + "\n";
      }
      if (pending_.empty()) {
        cluster_.changed_.Wait(cluster_.mu_);
      }
    }
    const std::size_t n = std::min(capacity, pending_.size());
    std::memcpy(buffer, pending_.data(), n);
    pending_.erase(0, n);
    return n;
  }

  void Cancel() override {
    MutexLock lock(cluster_.mu_);
    cancelled_ = true;
    cluster_.changed_.SignalAll();
  }

 private:
  MemoryCluster& cluster_;
  const std::string collection_;
  const std::string ns_;
  const kube::HttpHeaders headers_;
  int64_t after_ GUARDED_BY(cluster_.mu_);
  std::string pending_ GUARDED_BY(cluster_.mu_);
  bool cancelled_ GUARDED_BY(cluster_.mu_) = false;
};

std::optional<MemoryCluster::Target> MemoryCluster::Parse(const std::string& target) {
  const std::string path = target.substr(0, target.find('?'));
  std::vector<std::string> segments = Split(path);
  size_t rest = 0;
  std::string prefix;
  if (segments.size() >= 2 && segments[0] == "api") {
    prefix = "/api/" + segments[1];
    rest = 2;
  } else if (segments.size() >= 3 && segments[0] == "apis") {
    prefix = "/apis/" + segments[1] + "/" + segments[2];
    rest = 3;
  } else {
    return std::nullopt;
  }
  std::vector<std::string> tail(segments.begin() + static_cast<std::ptrdiff_t>(rest),
                                segments.end());
  Target parsed;
  size_t at = 0;
  if (tail.size() >= 3 && tail[0] == "namespaces") {
    parsed.ns = tail[1];
    at = 2;
  }
  if (at >= tail.size()) {
    return std::nullopt;
  }
  parsed.collection = prefix + "/" + tail[at];
  if (at + 1 < tail.size()) {
    parsed.name = tail[at + 1];
  }
  if (at + 2 < tail.size()) {
    parsed.subresource = tail[at + 2];
  }
  return parsed;
}

std::string MemoryCluster::Collection(const kube::GroupVersionResource& gvr) {
  return gvr.ApiPrefix() + "/" + gvr.resource;
}

Result<kube::HttpResponse> MemoryCluster::Send(const kube::HttpRequest& request) {
  const std::optional<Target> target = Parse(request.path);
  if (!target) {
    return StatusResponse(404, "NotFound", "no such path " + request.path);
  }
  MutexLock lock(mu_);
  std::map<std::string, json>& objects = objects_[target->collection];
  const std::string key = KeyOf(target->ns, target->name);
  if (request.method == "GET" && target->name.empty()) {
    json items = json::array();
    for (const auto& [object_key, object] : objects) {
      if (target->ns.empty() || object["metadata"].value("namespace", "") == target->ns) {
        items.push_back(object);
      }
    }
    return JsonResponse(200, {{"kind", "List"},
                              {"apiVersion", "v1"},
                              {"metadata", {{"resourceVersion", std::to_string(version_)}}},
                              {"items", std::move(items)}});
  }
  if (request.method == "POST") {
    json object = json::parse(request.body, nullptr, false);
    if (!object.is_object() || !object["metadata"].is_object()) {
      return StatusResponse(400, "BadRequest", "not an object");
    }
    if (!target->ns.empty()) {
      object["metadata"]["namespace"] = target->ns;
    }
    if (objects.contains(KeyOf(object))) {
      return StatusResponse(409, "AlreadyExists", KeyOf(object) + " exists");
    }
    return JsonResponse(201, Store(target->collection, std::move(object), true));
  }
  const auto found = objects.find(key);
  if (found == objects.end()) {
    return StatusResponse(404, "NotFound", key + " not found");
  }
  if (request.method == "GET") {
    return JsonResponse(200, found->second);
  }
  if (request.method == "DELETE") {
    Erase(target->collection, key);
    return JsonResponse(200, {{"kind", "Status"}, {"status", "Success"}});
  }
  if (request.method != "PATCH") {
    return StatusResponse(405, "MethodNotAllowed", request.method);
  }
  patches_.push_back("PATCH " + request.path.substr(0, request.path.find('?')));
  json patch = json::parse(request.body, nullptr, false);
  if (!patch.is_object()) {
    return StatusResponse(400, "BadRequest", "patch is not an object");
  }
  if (patch.contains("metadata") && patch["metadata"].is_object() &&
      patch["metadata"].contains("resourceVersion")) {
    if (patch["metadata"]["resourceVersion"] != found->second["metadata"]["resourceVersion"]) {
      return StatusResponse(409, "Conflict", "the object has been modified");
    }
    patch["metadata"].erase("resourceVersion");
  }
  json object = found->second;
  if (target->subresource == "status") {
    object["status"].merge_patch(patch.value("status", json::object()));
  } else {
    object.merge_patch(patch);
  }
  return JsonResponse(200, Store(target->collection, std::move(object), false));
}

Result<std::unique_ptr<kube::ResponseStream>> MemoryCluster::Open(
    const kube::HttpRequest& request) {
  const std::optional<Target> target = Parse(request.path);
  if (!target || Query(request.path, "watch").empty()) {
    return Unavailable("only watches are streamed");
  }
  const std::string after = Query(request.path, "resourceVersion");
  return std::unique_ptr<kube::ResponseStream>(std::make_unique<Stream>(
      *this, target->collection, target->ns, after.empty() ? 0 : std::stoll(after)));
}

std::unique_ptr<kube::Client> MemoryCluster::NewClient() {
  kube::ClientOptions options;
  options.qps = 0;
  struct Unowned final : kube::Transport {
    explicit Unowned(MemoryCluster& cluster) : cluster(cluster) {}
    Result<kube::HttpResponse> Send(const kube::HttpRequest& request) override {
      return cluster.Send(request);
    }
    Result<std::unique_ptr<kube::ResponseStream>> Open(const kube::HttpRequest& request) override {
      return cluster.Open(request);
    }
    MemoryCluster& cluster;
  };
  return std::make_unique<kube::Client>(std::make_shared<Unowned>(*this), "", "", options);
}

json MemoryCluster::Put(const kube::GroupVersionResource& gvr, json object) {
  MutexLock lock(mu_);
  const bool created = !objects_[Collection(gvr)].contains(KeyOf(object));
  return Store(Collection(gvr), std::move(object), created);
}

void MemoryCluster::Remove(const kube::GroupVersionResource& gvr, const std::string& ns,
                           const std::string& name) {
  MutexLock lock(mu_);
  Erase(Collection(gvr), KeyOf(gvr.namespaced ? ns : "", name));
}

std::optional<json> MemoryCluster::Get(const kube::GroupVersionResource& gvr,
                                       const std::string& ns, const std::string& name) const {
  MutexLock lock(mu_);
  const auto collection = objects_.find(Collection(gvr));
  if (collection == objects_.end()) {
    return std::nullopt;
  }
  const auto found = collection->second.find(KeyOf(gvr.namespaced ? ns : "", name));
  if (found == collection->second.end()) {
    return std::nullopt;
  }
  return found->second;
}

std::vector<json> MemoryCluster::List(const kube::GroupVersionResource& gvr) const {
  MutexLock lock(mu_);
  std::vector<json> items;
  if (const auto collection = objects_.find(Collection(gvr)); collection != objects_.end()) {
    for (const auto& [key, object] : collection->second) {
      items.push_back(object);
    }
  }
  return items;
}

std::vector<std::string> MemoryCluster::patches() const {
  MutexLock lock(mu_);
  return patches_;
}

int64_t MemoryCluster::version() const {
  MutexLock lock(mu_);
  return version_;
}

json MemoryCluster::Store(const std::string& collection, json object, bool created) {
  json& metadata = object["metadata"];
  metadata["resourceVersion"] = std::to_string(++version_);
  if (!metadata.contains("uid")) {
    metadata["uid"] = "uid-" + std::to_string(++uids_);
  }
  if (!metadata.contains("creationTimestamp")) {
    metadata["creationTimestamp"] = "2026-11-27T10:00:00Z";
  }
  objects_[collection][KeyOf(object)] = object;
  changes_.push_back(Change{version_, collection, created ? "ADDED" : "MODIFIED", object});
  changed_.SignalAll();
  return object;
}

void MemoryCluster::Erase(const std::string& collection, const std::string& key) {
  auto& objects = objects_[collection];
  const auto found = objects.find(key);
  if (found == objects.end()) {
    return;
  }
  json object = std::move(found->second);
  objects.erase(found);
  object["metadata"]["resourceVersion"] = std::to_string(++version_);
  changes_.push_back(Change{version_, collection, "DELETED", std::move(object)});
  changed_.SignalAll();
}

}  // namespace agentbudget::queue::testing
