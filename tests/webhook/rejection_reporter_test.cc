#include "webhook/rejection_reporter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"

namespace agentbudget::webhook {
namespace {

using nlohmann::json;

constexpr char kPrefix[] = "/apis/agentbudget.io/v1alpha1/namespaces/";

std::string WorkloadPath(const std::string& ns, const std::string& name) {
  return kPrefix + ns + "/agentworkloads/" + name;
}

// AgentWorkloads in memory behind the client's transport, as the API server serves them:
// GET of an object, and merge PATCH of its status subresource, conditional on the
// metadata.resourceVersion the patch carries (409 Conflict when stale); every write bumps
// the version. `before_patch` runs before each PATCH is judged (another replica writing in
// between); `fail_next` answers that many requests with `fail_status`. Thread-safe.
class MemoryApiServer final : public kube::Transport {
 public:
  Result<kube::HttpResponse> Send(const kube::HttpRequest& request) override {
    std::function<void()> hook;
    {
      MutexLock lock(mu_);
      requests_.push_back(request.method + " " + request.path);
      if (fail_next_ > 0) {
        --fail_next_;
        return StatusResponse(fail_status_, "InternalError");
      }
      hook = before_patch_;
    }
    if (request.method == "PATCH" && hook) {
      hook();
    }
    MutexLock lock(mu_);
    if (request.method == "GET") {
      auto found = objects_.find(request.path);
      return found == objects_.end() ? StatusResponse(404, "NotFound")
                                     : kube::HttpResponse{200, {}, found->second.dump()};
    }
    constexpr std::string_view kStatus = "/status";
    auto content_type = request.headers.find("content-type");
    if (request.method != "PATCH" || !request.path.ends_with(kStatus) ||
        content_type == request.headers.end() ||
        content_type->second != "application/merge-patch+json") {
      return StatusResponse(405, "MethodNotAllowed");
    }
    auto found = objects_.find(request.path.substr(0, request.path.size() - kStatus.size()));
    if (found == objects_.end()) {
      return StatusResponse(404, "NotFound");
    }
    const json patch = json::parse(request.body);
    if (patch["metadata"]["resourceVersion"] != found->second["metadata"]["resourceVersion"]) {
      return StatusResponse(409, "Conflict");
    }
    Write(found->second, patch["status"]);
    return kube::HttpResponse{200, {}, found->second.dump()};
  }
  Result<std::unique_ptr<kube::ResponseStream>> Open(const kube::HttpRequest&) override {
    return Unavailable("no watches here");
  }

  void Put(const std::string& ns, const std::string& name, json status = json::object()) {
    MutexLock lock(mu_);
    json object = {{"apiVersion", "agentbudget.io/v1alpha1"},
                   {"kind", "AgentWorkload"},
                   {"metadata", {{"name", name}, {"namespace", ns}}},
                   {"status", std::move(status)}};
    Write(object, json::object());
    objects_[WorkloadPath(ns, name)] = std::move(object);
  }
  // Adds `n` to the workload's rejectedRuns as another writer would, bumping the version.
  void AddRejections(const std::string& ns, const std::string& name, int64_t n) {
    MutexLock lock(mu_);
    json& object = objects_.at(WorkloadPath(ns, name));
    Write(object, {{"rejectedRuns", object["status"].value("rejectedRuns", int64_t{0}) + n}});
  }
  json RejectedRuns(const std::string& ns, const std::string& name) {
    MutexLock lock(mu_);
    return objects_.at(WorkloadPath(ns, name))["status"].value("rejectedRuns", json());
  }
  void SetBeforePatch(std::function<void()> hook) {
    MutexLock lock(mu_);
    before_patch_ = std::move(hook);
  }
  void FailNext(int requests, int status) {
    MutexLock lock(mu_);
    fail_next_ = requests;
    fail_status_ = status;
  }
  std::vector<std::string> requests() {
    MutexLock lock(mu_);
    return requests_;
  }

 private:
  static kube::HttpResponse StatusResponse(int code, const std::string& reason) {
    json status = {{"kind", "Status"},  {"apiVersion", "v1"}, {"status", "Failure"},
                   {"reason", reason},  {"code", code},       {"message", reason}};
    return {code, {}, status.dump()};
  }
  void Write(json& object, const json& status_patch) REQUIRES(mu_) {
    object["status"].merge_patch(status_patch);
    object["metadata"]["resourceVersion"] = std::to_string(++version_);
  }

  Mutex mu_;
  std::map<std::string, json> objects_ GUARDED_BY(mu_);  // by path
  int64_t version_ GUARDED_BY(mu_) = 100;
  std::function<void()> before_patch_ GUARDED_BY(mu_);
  int fail_next_ GUARDED_BY(mu_) = 0;
  int fail_status_ GUARDED_BY(mu_) = 500;
  std::vector<std::string> requests_ GUARDED_BY(mu_);
};

TEST(RejectedRunsPatchTest, AddsThePendingCountToTheCountRead) {
  json workload = {{"metadata", {{"resourceVersion", "42"}}}, {"status", {{"rejectedRuns", 7}}}};
  auto patch = RejectedRunsPatch(workload, 3);
  ASSERT_TRUE(patch.ok()) << patch.error().ToString();
  EXPECT_EQ(*patch, (json{{"metadata", {{"resourceVersion", "42"}}},
                          {"status", {{"rejectedRuns", 10}}}}));
}

TEST(RejectedRunsPatchTest, AbsentCountIsZero) {
  for (json status : {json(), json::object(), json{{"rejectedRuns", nullptr}}}) {
    json workload = {{"metadata", {{"resourceVersion", "1"}}}, {"status", status}};
    auto patch = RejectedRunsPatch(workload, 2);
    ASSERT_TRUE(patch.ok()) << status.dump();
    EXPECT_EQ((*patch)["status"]["rejectedRuns"], 2) << status.dump();
  }
}

TEST(RejectedRunsPatchTest, ObjectWithoutResourceVersionIsRefused) {
  auto patch = RejectedRunsPatch({{"metadata", {{"name", "w"}}}}, 1);
  ASSERT_FALSE(patch.ok());
  EXPECT_EQ(patch.error().code, ErrorCode::kInvalidArgument);
}

TEST(RejectedRunsPatchTest, CountThatIsNotANonNegativeIntegerIsRefused) {
  for (json bad : {json("7"), json(-1), json(1.5), json::array()}) {
    json workload = {{"metadata", {{"resourceVersion", "1"}}}, {"status", {{"rejectedRuns", bad}}}};
    EXPECT_FALSE(RejectedRunsPatch(workload, 1).ok()) << bad.dump();
  }
}

TEST(RejectedRunsPatchTest, OverflowIsRefused) {
  json workload = {{"metadata", {{"resourceVersion", "1"}}},
                   {"status", {{"rejectedRuns", std::numeric_limits<int64_t>::max()}}}};
  EXPECT_FALSE(RejectedRunsPatch(workload, 1).ok());
}

class RejectionReporterTest : public ::testing::Test {
 protected:
  RejectionReporterTest()
      : server_(std::make_shared<MemoryApiServer>()),
        client_(server_, "token", "", ClientOptions()) {
    server_->Put("payments", "pr-review");
    server_->Put("payments", "nightly", {{"rejectedRuns", 5}});
  }

  static kube::ClientOptions ClientOptions() {
    kube::ClientOptions options;
    options.max_retries = 0;  // failures reach the reporter as they happen
    return options;
  }

  void CountTimes(RejectionReporter& reporter, const std::string& name, int n) {
    for (int i = 0; i < n; ++i) {
      reporter.Count("payments", name);
    }
  }

  std::shared_ptr<MemoryApiServer> server_;
  kube::Client client_;
};

TEST_F(RejectionReporterTest, FlushAddsEachWorkloadsCountToItsStatus) {
  RejectionReporter reporter(client_);
  CountTimes(reporter, "pr-review", 3);
  CountTimes(reporter, "nightly", 2);
  EXPECT_EQ(reporter.pending(), 5);
  EXPECT_EQ(reporter.Flush(), 0u);
  EXPECT_EQ(reporter.pending(), 0);
  EXPECT_EQ(server_->RejectedRuns("payments", "pr-review"), 3);
  EXPECT_EQ(server_->RejectedRuns("payments", "nightly"), 7);
}

// A flood of rejections, each for another workload: the pending counts stay bounded, and
// what is dropped is counted.
TEST_F(RejectionReporterTest, PendingCountsStayBoundedUnderAFloodOfWorkloads) {
  kube::ClientOptions unlimited = ClientOptions();
  unlimited.qps = 1e9;
  unlimited.burst = 1'000'000;
  kube::Client client(server_, "token", "", unlimited);  // Stop() flushes them all
  RejectionReporter reporter(client);
  const size_t flood = RejectionReporter::kMaxPendingWorkloads + 500;
  for (size_t i = 0; i < flood; ++i) {
    reporter.Count("payments", "workload-" + std::to_string(i));
  }
  EXPECT_EQ(reporter.pending_workloads(), RejectionReporter::kMaxPendingWorkloads);
  EXPECT_EQ(reporter.dropped(), 500);
  // Workloads already pending still count.
  reporter.Count("payments", "workload-0");
  EXPECT_EQ(reporter.pending(), static_cast<int64_t>(RejectionReporter::kMaxPendingWorkloads) + 1);
}

TEST_F(RejectionReporterTest, WrittenCountsAreNotWrittenAgain) {
  RejectionReporter reporter(client_);
  CountTimes(reporter, "pr-review", 3);
  reporter.Flush();
  const size_t requests = server_->requests().size();
  reporter.Flush();
  EXPECT_EQ(server_->requests().size(), requests);
  EXPECT_EQ(server_->RejectedRuns("payments", "pr-review"), 3);
}

TEST_F(RejectionReporterTest, WriterBetweenTheReadAndThePatchLosesNoIncrement) {
  RejectionReporter reporter(client_);
  CountTimes(reporter, "pr-review", 3);
  bool wrote = false;
  server_->SetBeforePatch([&] {
    if (!wrote) {
      wrote = true;
      server_->AddRejections("payments", "pr-review", 10);
    }
  });
  EXPECT_EQ(reporter.Flush(), 0u);
  EXPECT_EQ(server_->RejectedRuns("payments", "pr-review"), 13);
  const std::vector<std::string> requests = server_->requests();
  EXPECT_EQ(std::count(requests.begin(), requests.end(),
                       "GET " + WorkloadPath("payments", "pr-review")),
            2);
}

TEST_F(RejectionReporterTest, CountStaysPendingWhileTheStatusStaysContended) {
  RejectionReporter reporter(client_);
  CountTimes(reporter, "pr-review", 3);
  server_->SetBeforePatch([&] { server_->AddRejections("payments", "pr-review", 1); });
  EXPECT_EQ(reporter.Flush(), 1u);
  EXPECT_EQ(reporter.pending(), 3);
  const int64_t others = RejectionReporter::kConflictRetries + 1;
  EXPECT_EQ(server_->RejectedRuns("payments", "pr-review"), others);
  server_->SetBeforePatch(nullptr);
  EXPECT_EQ(reporter.Flush(), 0u);
  EXPECT_EQ(server_->RejectedRuns("payments", "pr-review"), others + 3);
}

TEST_F(RejectionReporterTest, ServerErrorKeepsTheCountForTheNextFlush) {
  RejectionReporter reporter(client_);
  CountTimes(reporter, "pr-review", 2);
  server_->FailNext(1, 503);
  EXPECT_EQ(reporter.Flush(), 1u);
  EXPECT_EQ(reporter.pending(), 2);
  EXPECT_EQ(server_->RejectedRuns("payments", "pr-review"), nullptr);
  EXPECT_EQ(reporter.Flush(), 0u);
  EXPECT_EQ(server_->RejectedRuns("payments", "pr-review"), 2);
}

TEST_F(RejectionReporterTest, CountOfAWorkloadThatIsGoneIsDropped) {
  RejectionReporter reporter(client_);
  CountTimes(reporter, "deleted", 4);
  EXPECT_EQ(reporter.Flush(), 0u);
  EXPECT_EQ(reporter.pending(), 0);
}

TEST_F(RejectionReporterTest, RejectionsCountedDuringAFlushWaitForTheNext) {
  RejectionReporter reporter(client_);
  CountTimes(reporter, "pr-review", 1);
  server_->SetBeforePatch([&] { reporter.Count("payments", "pr-review"); });
  EXPECT_EQ(reporter.Flush(), 1u);
  EXPECT_EQ(server_->RejectedRuns("payments", "pr-review"), 1);
  EXPECT_EQ(reporter.pending(), 1);
}

TEST_F(RejectionReporterTest, StopFlushesWhatIsPending) {
  RejectionReporter reporter(client_, std::chrono::hours(1));
  reporter.Start();
  CountTimes(reporter, "pr-review", 2);
  reporter.Stop();
  EXPECT_EQ(server_->RejectedRuns("payments", "pr-review"), 2);
  EXPECT_EQ(reporter.pending(), 0);
}

TEST_F(RejectionReporterTest, RunningReporterFlushesByItself) {
  RejectionReporter reporter(client_, std::chrono::milliseconds(10));
  reporter.Start();
  CountTimes(reporter, "pr-review", 2);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (server_->RejectedRuns("payments", "pr-review") != 2 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // poll interval
  }
  EXPECT_EQ(server_->RejectedRuns("payments", "pr-review"), 2);
}

}  // namespace
}  // namespace agentbudget::webhook
