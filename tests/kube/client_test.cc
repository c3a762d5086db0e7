#include "kube/client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <unistd.h>

#include "tests/kube/fake_api_server.h"

namespace agentbudget::kube {
namespace {

using nlohmann::json;
using testing::Connection;
using testing::FakeApiServer;
using testing::ReceivedRequest;
using testing::StatusJson;

class ClientTest : public ::testing::Test {
 protected:
  std::unique_ptr<Client> NewClient(const FakeApiServer& server, ClientOptions options = {},
                                    std::string token = "t0k3n", std::string token_file = "") {
    TransportConfig config;
    config.server = server.url();
    auto transport = NewCpprestTransport(config);
    EXPECT_TRUE(transport.ok());
    return std::make_unique<Client>(std::shared_ptr<Transport>(std::move(transport).value()),
                                    std::move(token), std::move(token_file), options);
  }

  static json Pod(const std::string& name, const std::string& rv = "1") {
    return {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"namespace", "ns"}, {"resourceVersion", rv}}}};
  }
};

TEST_F(ClientTest, GetSendsTheObjectPathAndBearerTokenAndReturnsTheObject) {
  FakeApiServer server([](const ReceivedRequest&, Connection& c) {
    c.RespondJson(200, Pod("web").dump());
  });
  auto client = NewClient(server);
  Result<json> pod = client->Get(resources::kPods, "ns", "web");
  ASSERT_TRUE(pod.ok()) << pod.error().ToString();
  EXPECT_EQ((*pod)["metadata"]["name"], "web");
  ReceivedRequest request = server.requests().at(0);
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.target, "/api/v1/namespaces/ns/pods/web");
  EXPECT_EQ(request.headers["authorization"], "Bearer t0k3n");
}

TEST_F(ClientTest, CustomResourcePathsUseTheirGroup) {
  FakeApiServer server([](const ReceivedRequest&, Connection& c) {
    c.RespondJson(200, R"({"metadata":{"name":"b"}})");
  });
  auto client = NewClient(server);
  GroupVersionResource budgets{"agentbudget.io", "v1alpha1", "agentbudgets", false};
  ASSERT_TRUE(client->Get(budgets, "ignored", "b").ok());
  EXPECT_EQ(server.requests().at(0).target, "/apis/agentbudget.io/v1alpha1/agentbudgets/b");
}

TEST_F(ClientTest, MissingObjectIsNotFound) {
  FakeApiServer server([](const ReceivedRequest&, Connection& c) {
    c.RespondJson(404, StatusJson(404, "NotFound", "pods \"web\" not found"));
  });
  Result<json> pod = NewClient(server)->Get(resources::kPods, "ns", "web");
  ASSERT_FALSE(pod.ok());
  EXPECT_EQ(pod.error().code, ErrorCode::kNotFound);
  EXPECT_NE(pod.error().message.find("pods \"web\" not found"), std::string::npos);
}

TEST_F(ClientTest, CreateOfExistingObjectIsAlreadyExists) {
  FakeApiServer server([](const ReceivedRequest&, Connection& c) {
    c.RespondJson(409, StatusJson(409, "AlreadyExists", "exists"));
  });
  Result<json> pod = NewClient(server)->Create(resources::kPods, "ns", Pod("web"));
  ASSERT_FALSE(pod.ok());
  EXPECT_EQ(pod.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(server.requests().at(0).method, "POST");
  EXPECT_EQ(server.requests().at(0).target, "/api/v1/namespaces/ns/pods");
}

TEST_F(ClientTest, UpdateWithStaleResourceVersionIsConflictAndNotRetried) {
  FakeApiServer server([](const ReceivedRequest&, Connection& c) {
    c.RespondJson(409, StatusJson(409, "Conflict", "the object has been modified"));
  });
  Result<json> pod = NewClient(server)->Update(resources::kPods, "ns", Pod("web", "7"));
  ASSERT_FALSE(pod.ok());
  EXPECT_EQ(pod.error().code, ErrorCode::kConflict);
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(json::parse(server.requests().at(0).body)["metadata"]["resourceVersion"], "7");
}

TEST_F(ClientTest, InvalidObjectErrorListsEveryCause) {
  FakeApiServer server([](const ReceivedRequest&, Connection& c) {
    json status = json::parse(StatusJson(422, "Invalid", "Pod \"web\" is invalid"));
    status["details"]["causes"] = {
        {{"field", "spec.containers"}, {"message", "Required value"}},
        {{"field", "metadata.name"}, {"message", "Invalid value: \"Web\""}}};
    c.RespondJson(422, status.dump());
  });
  Result<json> pod = NewClient(server)->Create(resources::kPods, "ns", Pod("Web"));
  ASSERT_FALSE(pod.ok());
  EXPECT_EQ(pod.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(pod.error().message.find("spec.containers: Required value"), std::string::npos);
  EXPECT_NE(pod.error().message.find("metadata.name: Invalid value"), std::string::npos);
}

TEST_F(ClientTest, ForbiddenAndUnauthorizedMapToPermissionErrors) {
  std::atomic<int> calls{0};
  FakeApiServer server([&](const ReceivedRequest&, Connection& c) {
    if (calls++ == 0) {
      c.RespondJson(403, StatusJson(403, "Forbidden", "cannot get pods"));
    } else {
      c.RespondJson(401, StatusJson(401, "Unauthorized", "Unauthorized"));
    }
  });
  auto client = NewClient(server);
  EXPECT_EQ(client->Get(resources::kPods, "ns", "a").error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(client->Get(resources::kPods, "ns", "a").error().code, ErrorCode::kUnauthenticated);
}

TEST_F(ClientTest, TooManyRequestsIsRetriedAfterTheServersDelayEvenForCreate) {
  std::atomic<int> calls{0};
  FakeApiServer server([&](const ReceivedRequest&, Connection& c) {
    if (calls++ == 0) {
      c.Respond(429, StatusJson(429, "TooManyRequests", "slow down"), {{"Retry-After", "1"}});
    } else {
      c.RespondJson(201, Pod("web").dump());
    }
  });
  ClientOptions options;
  options.max_retry_wait = std::chrono::milliseconds(20);
  Result<json> pod = NewClient(server, options)->Create(resources::kPods, "ns", Pod("web"));
  ASSERT_TRUE(pod.ok()) << pod.error().ToString();
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST_F(ClientTest, TooManyRequestsWithoutRetriesCarriesRetryAfter) {
  FakeApiServer server([](const ReceivedRequest&, Connection& c) {
    c.Respond(429, StatusJson(429, "TooManyRequests", "slow down"), {{"Retry-After", "3"}});
  });
  ClientOptions options;
  options.max_retries = 0;
  Result<json> pod = NewClient(server, options)->Get(resources::kPods, "ns", "web");
  ASSERT_FALSE(pod.ok());
  EXPECT_EQ(pod.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(pod.error().retry_after, std::chrono::seconds(3));
}

TEST_F(ClientTest, ServerErrorIsRetriedForGetButNotForCreate) {
  std::atomic<int> calls{0};
  FakeApiServer server([&](const ReceivedRequest& r, Connection& c) {
    if (r.method == "GET" && calls++ > 0) {
      c.RespondJson(200, Pod("web").dump());
    } else {
      c.RespondJson(500, StatusJson(500, "InternalError", "etcd hiccup"));
    }
  });
  auto client = NewClient(server);
  EXPECT_TRUE(client->Get(resources::kPods, "ns", "web").ok());
  Result<json> created = client->Create(resources::kPods, "ns", Pod("web"));
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST_F(ClientTest, SlowServerTimesOut) {
  FakeApiServer server([&](const ReceivedRequest&, Connection& c) {
    testing::WaitUntil([&] { return server.stopping(); }, std::chrono::seconds(5));
    c.Drop();
  });
  ClientOptions options;
  options.request_timeout = std::chrono::milliseconds(200);
  options.max_retries = 0;
  Result<json> pod = NewClient(server, options)->Get(resources::kPods, "ns", "web");
  ASSERT_FALSE(pod.ok());
  EXPECT_EQ(pod.error().code, ErrorCode::kDeadlineExceeded) << pod.error().ToString();
}

TEST_F(ClientTest, ListSendsSelectorsAndPaginationAndStampsKindOnItems) {
  FakeApiServer server([](const ReceivedRequest&, Connection& c) {
    c.RespondJson(200, R"({"kind":"PodList","apiVersion":"v1",
        "metadata":{"resourceVersion":"42","continue":"next"},
        "items":[{"metadata":{"name":"a"}}]})");
  });
  ListOptions options;
  options.label_selector = "app=web,tier in (a,b)";
  options.field_selector = "spec.nodeName=n1";
  options.limit = 10;
  Result<ObjectList> list = NewClient(server)->List(resources::kPods, "ns", options);
  ASSERT_TRUE(list.ok()) << list.error().ToString();
  EXPECT_EQ(list->resource_version, "42");
  EXPECT_EQ(list->continue_token, "next");
  EXPECT_EQ(list->items.at(0)["kind"], "Pod");
  EXPECT_EQ(list->items.at(0)["apiVersion"], "v1");
  ReceivedRequest request = server.requests().at(0);
  EXPECT_EQ(request.Query("labelSelector"), "app=web,tier in (a,b)");
  EXPECT_EQ(request.Query("fieldSelector"), "spec.nodeName=n1");
  EXPECT_EQ(request.Query("limit"), "10");
}

TEST_F(ClientTest, ListAllFollowsContinueTokensToTheLastPage) {
  FakeApiServer server([](const ReceivedRequest& r, Connection& c) {
    if (r.Query("continue").empty()) {
      c.RespondJson(200, R"({"kind":"PodList","metadata":{"resourceVersion":"9","continue":"p2"},
          "items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]})");
    } else {
      c.RespondJson(200, R"({"kind":"PodList","metadata":{"resourceVersion":"9"},
          "items":[{"metadata":{"name":"c"}}]})");
    }
  });
  Result<ObjectList> list = NewClient(server)->ListAll(resources::kPods, "", {}, 2);
  ASSERT_TRUE(list.ok()) << list.error().ToString();
  ASSERT_EQ(list->items.size(), 3u);
  EXPECT_EQ(list->items[2]["metadata"]["name"], "c");
  EXPECT_EQ(list->resource_version, "9");
  EXPECT_EQ(server.requests().at(1).Query("continue"), "p2");
  EXPECT_EQ(server.requests().at(1).Path(), "/api/v1/pods");
}

TEST_F(ClientTest, ListAllStartsOverOnceWhenItsContinuationExpires) {
  std::atomic<int> calls{0};
  FakeApiServer server([&](const ReceivedRequest& r, Connection& c) {
    int call = calls++;
    if (!r.Query("continue").empty() && call == 1) {
      c.RespondJson(410, StatusJson(410, "Expired", "continue token expired"));
    } else if (r.Query("continue").empty()) {
      c.RespondJson(200, R"({"metadata":{"resourceVersion":"20","continue":"p2"},
          "items":[{"metadata":{"name":"a"}}]})");
    } else {
      c.RespondJson(200, R"({"metadata":{"resourceVersion":"20"},"items":[{"metadata":{"name":"b"}}]})");
    }
  });
  Result<ObjectList> list = NewClient(server)->ListAll(resources::kPods, "ns", {}, 1);
  ASSERT_TRUE(list.ok()) << list.error().ToString();
  ASSERT_EQ(list->items.size(), 2u);
  EXPECT_EQ(list->items[0]["metadata"]["name"], "a");
  EXPECT_EQ(list->items[1]["metadata"]["name"], "b");
  EXPECT_EQ(server.requests().size(), 4u);
}

TEST_F(ClientTest, DeleteSendsPropagationPolicyAndPreconditions) {
  FakeApiServer server([](const ReceivedRequest&, Connection& c) {
    c.RespondJson(200, R"({"kind":"Status","status":"Success"})");
  });
  DeleteOptions options;
  options.propagation_policy = "Foreground";
  options.precondition_uid = "uid-1";
  options.precondition_resource_version = "5";
  ASSERT_TRUE(NewClient(server)->Delete(resources::kJobs, "ns", "job", options).ok());
  ReceivedRequest request = server.requests().at(0);
  EXPECT_EQ(request.method, "DELETE");
  EXPECT_EQ(request.target, "/apis/batch/v1/namespaces/ns/jobs/job");
  json body = json::parse(request.body);
  EXPECT_EQ(body["propagationPolicy"], "Foreground");
  EXPECT_EQ(body["preconditions"]["uid"], "uid-1");
  EXPECT_EQ(body["preconditions"]["resourceVersion"], "5");
}

TEST_F(ClientTest, ServerSideApplySendsFieldManagerForceAndApplyContentType) {
  FakeApiServer server([](const ReceivedRequest&, Connection& c) {
    c.RespondJson(200, R"({"metadata":{"name":"web"}})");
  });
  PatchOptions options;
  options.field_manager = "agentbudget-operator";
  options.force = true;
  options.subresource = "status";
  auto client = NewClient(server);
  ASSERT_TRUE(client->Patch(resources::kPods, "ns", "web", PatchType::kApply,
                            {{"status", {{"phase", "Running"}}}}, options)
                  .ok());
  ReceivedRequest request = server.requests().at(0);
  EXPECT_EQ(request.method, "PATCH");
  EXPECT_EQ(request.Path(), "/api/v1/namespaces/ns/pods/web/status");
  EXPECT_EQ(request.Query("fieldManager"), "agentbudget-operator");
  EXPECT_EQ(request.Query("force"), "true");
  EXPECT_EQ(request.headers["content-type"], "application/apply-patch+yaml");
}

TEST_F(ClientTest, PatchTypesSelectTheirContentTypes) {
  FakeApiServer server([](const ReceivedRequest&, Connection& c) {
    c.RespondJson(200, R"({"metadata":{"name":"web"}})");
  });
  auto client = NewClient(server);
  ASSERT_TRUE(client->Patch(resources::kPods, "ns", "web", PatchType::kMerge,
                            {{"metadata", {{"labels", {{"a", "b"}}}}}})
                  .ok());
  ASSERT_TRUE(client->Patch(resources::kPods, "ns", "web", PatchType::kJsonPatch,
                            json::array({{{"op", "remove"}, {"path", "/metadata/labels/a"}}}))
                  .ok());
  EXPECT_EQ(server.requests().at(0).headers["content-type"], "application/merge-patch+json");
  EXPECT_EQ(server.requests().at(1).headers["content-type"], "application/json-patch+json");
}

TEST_F(ClientTest, ApplyWithoutFieldManagerIsRejectedBeforeSending) {
  FakeApiServer server([](const ReceivedRequest&, Connection& c) { c.RespondJson(200, "{}"); });
  Result<json> patched =
      NewClient(server)->Patch(resources::kPods, "ns", "web", PatchType::kApply, json::object());
  ASSERT_FALSE(patched.ok());
  EXPECT_EQ(patched.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(ClientTest, UpdateStatusPutsToTheStatusSubresource) {
  FakeApiServer server([](const ReceivedRequest&, Connection& c) {
    c.RespondJson(200, R"({"metadata":{"name":"web"}})");
  });
  ASSERT_TRUE(NewClient(server)->UpdateStatus(resources::kPods, "ns", Pod("web")).ok());
  EXPECT_EQ(server.requests().at(0).method, "PUT");
  EXPECT_EQ(server.requests().at(0).target, "/api/v1/namespaces/ns/pods/web/status");
}

TEST_F(ClientTest, TokenFileIsReadAgainWhenItIsRotated) {
  FakeApiServer server([](const ReceivedRequest&, Connection& c) {
    c.RespondJson(200, R"({"metadata":{"name":"web"}})");
  });
  std::filesystem::path file = std::filesystem::temp_directory_path() /
                               ("kube-token-" + std::to_string(::getpid()));
  std::ofstream(file) << "first\n";
  auto client = NewClient(server, {}, "", file.string());
  ASSERT_TRUE(client->Get(resources::kPods, "ns", "web").ok());
  std::ofstream(file) << "second\n";
  // Make the change visible even on file systems with coarse timestamps.
  std::filesystem::last_write_time(file, std::filesystem::last_write_time(file) +
                                             std::chrono::seconds(2));
  ASSERT_TRUE(client->Get(resources::kPods, "ns", "web").ok());
  std::filesystem::remove(file);
  EXPECT_EQ(server.requests().at(0).headers["authorization"], "Bearer first");
  EXPECT_EQ(server.requests().at(1).headers["authorization"], "Bearer second");
}

TEST_F(ClientTest, RefusedConnectionIsUnavailable) {
  std::string url;
  {
    FakeApiServer gone([](const ReceivedRequest&, Connection& c) { c.RespondJson(200, "{}"); });
    url = gone.url();
  }
  TransportConfig config;
  config.server = url;
  auto transport = NewCpprestTransport(config);
  ASSERT_TRUE(transport.ok());
  ClientOptions options;
  options.max_retries = 0;
  Client client(std::shared_ptr<Transport>(std::move(transport).value()), "", "", options);
  Result<json> pod = client.Get(resources::kPods, "ns", "web");
  ASSERT_FALSE(pod.ok());
  EXPECT_EQ(pod.error().code, ErrorCode::kUnavailable);
}

TEST_F(ClientTest, MalformedServerUrlIsAnInvalidArgument) {
  TransportConfig config;
  config.server = "ftp://example";
  auto transport = NewCpprestTransport(config);
  ASSERT_FALSE(transport.ok());
  EXPECT_EQ(transport.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace agentbudget::kube
