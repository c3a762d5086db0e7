#include "webhook/kube_fanout_counter.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "common/mutex.h"

namespace agentbudget::webhook {
namespace {

using nlohmann::json;

// ConfigMaps in memory behind the client's transport: GET, POST and PUT (conditional on
// the resourceVersion) of /api/v1/namespaces/<ns>/configmaps; every LIST answers empty and
// any other GET 404. Thread-safe.
class ConfigMapApiServer final : public kube::Transport {
 public:
  Result<kube::HttpResponse> Send(const kube::HttpRequest& request) override {
    MutexLock lock(mu_);
    const std::string path = request.path.substr(0, request.path.find('?'));
    const bool config_maps = path.find("/configmaps") != std::string::npos;
    if (request.method == "GET" && request.path.find('?') != std::string::npos) {
      return kube::HttpResponse{200, {}, R"({"metadata":{"resourceVersion":"1"},"items":[]})"};
    }
    if (request.method == "GET") {
      auto it = objects_.find(path);
      return it == objects_.end() || !config_maps ? Status(404, "NotFound")
                                                  : kube::HttpResponse{200, {}, it->second.dump()};
    }
    json object = json::parse(request.body);
    if (request.method == "POST") {
      const std::string key = path + "/" + object["metadata"]["name"].get<std::string>();
      if (objects_.contains(key)) {
        return Status(409, "AlreadyExists");
      }
      object["metadata"]["resourceVersion"] = std::to_string(++version_);
      objects_[key] = object;
      return kube::HttpResponse{201, {}, object.dump()};
    }
    auto it = objects_.find(path);
    if (request.method != "PUT" || it == objects_.end()) {
      return Status(404, "NotFound");
    }
    if (object["metadata"]["resourceVersion"] != it->second["metadata"]["resourceVersion"]) {
      return Status(409, "Conflict");
    }
    object["metadata"]["resourceVersion"] = std::to_string(++version_);
    it->second = object;
    return kube::HttpResponse{200, {}, object.dump()};
  }
  Result<std::unique_ptr<kube::ResponseStream>> Open(const kube::HttpRequest&) override {
    return Unavailable("no watches here");
  }

 private:
  static kube::HttpResponse Status(int code, const std::string& reason) {
    json status = {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
                   {"reason", reason}, {"code", code},       {"message", reason}};
    return {code, {}, status.dump()};
  }

  Mutex mu_;
  std::map<std::string, json> objects_ GUARDED_BY(mu_);  // by path
  int64_t version_ GUARDED_BY(mu_) = 100;
};

class KubeFanoutCounterTest : public ::testing::Test {
 protected:
  KubeFanoutCounterTest()
      : client_(std::make_shared<ConfigMapApiServer>(), "token", "", Options()),
        counter_(client_) {}

  static kube::ClientOptions Options() {
    kube::ClientOptions options;
    options.max_retries = 0;
    options.qps = 1e9;
    options.burst = 1'000'000;
    return options;
  }
  static FanoutRequest Request(const std::string& run, int64_t cap, const std::string& name) {
    FanoutRequest request;
    request.namespace_name = "payments";
    request.parent_run = run;
    request.cap = cap;
    request.kind = "Pod";
    request.name = name;
    request.claim_uid = "claim-" + name;
    request.received = std::chrono::steady_clock::now();
    return request;
  }

  kube::Client client_;
  KubeFanoutCounter counter_;
};

TEST_F(KubeFanoutCounterTest, ClaimsBelowTheCapAreAdmittedAndCounted) {
  auto first = counter_.Claim(Request("run-a", 2, "a"));
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_TRUE(first->admitted);
  EXPECT_EQ(first->count, 1);
  auto second = counter_.Claim(Request("run-a", 2, "b"));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->count, 2);
}

// A flood of claims, each for another run (runs are created by tenants): the counter keeps
// no queue once a claim is answered, and remembers at most kMaxFullRuns full runs.
TEST_F(KubeFanoutCounterTest, StateStaysBoundedUnderAFloodOfRuns) {
  const size_t flood = KubeFanoutCounter::kMaxFullRuns + 300;
  for (size_t i = 0; i < flood; ++i) {
    // A cap of 0 is full at once: every run is remembered as full.
    auto claim = counter_.Claim(Request("run-" + std::to_string(i), 0, "p"));
    ASSERT_TRUE(claim.ok()) << claim.error().ToString();
    EXPECT_FALSE(claim->admitted);
  }
  for (size_t i = 0; i < 50; ++i) {
    ASSERT_TRUE(counter_.Claim(Request("open-" + std::to_string(i), 5, "p")).ok());
  }
  KubeFanoutCounter::Tracked tracked = counter_.tracked();
  EXPECT_EQ(tracked.queued_runs, 0u);
  EXPECT_EQ(tracked.full_runs, KubeFanoutCounter::kMaxFullRuns);
  // The most recent full run is still known without a call; a forgotten one is read again
  // and still refused.
  auto recent = counter_.Claim(Request("run-" + std::to_string(flood - 1), 0, "p"));
  ASSERT_TRUE(recent.ok());
  EXPECT_FALSE(recent->admitted);
  auto forgotten = counter_.Claim(Request("run-0", 0, "p"));
  ASSERT_TRUE(forgotten.ok());
  EXPECT_FALSE(forgotten->admitted);
}

}  // namespace
}  // namespace agentbudget::webhook
