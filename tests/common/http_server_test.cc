#include "common/http_server.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/metrics_endpoint.h"
#include "tests/common/test_tls.h"

namespace agentbudget::http {
namespace {

using testing::BodyOf;
using testing::RawHttpExchange;
using testing::StatusOf;

Request MakeRequest(std::string method, std::string path) {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

Handler Named(std::string name) {
  return [name](const Request&) { return Response::Text(200, name); };
}

TEST(RouterTest, LongestMatchingPrefixWins) {
  Router router;
  router.Add("GET", "/v1", Named("v1"));
  router.Add("GET", "/v1/runs", Named("runs"));
  EXPECT_EQ(router.Dispatch(MakeRequest("GET", "/v1/runs/abc")).body, "runs");
  EXPECT_EQ(router.Dispatch(MakeRequest("GET", "/v1/budgets")).body, "v1");
}

TEST(RouterTest, PrefixDoesNotMatchInsideAPathSegment) {
  Router router;
  router.Add("GET", "/v1/runs", Named("runs"));
  EXPECT_EQ(router.Dispatch(MakeRequest("GET", "/v1/runsx")).status, 404);
}

TEST(RouterTest, KnownPathWithOtherMethodIsAnswered405WithAllow) {
  Router router;
  router.Add("POST", "/mutate", Named("mutate"));
  Response r = router.Dispatch(MakeRequest("GET", "/mutate"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["Allow"], "POST");
}

TEST(RouterTest, WildcardMethodMatchesAnyMethod) {
  Router router;
  router.Add("*", "/", Named("any"));
  EXPECT_EQ(router.Dispatch(MakeRequest("DELETE", "/x/y")).body, "any");
}

TEST(ResponseTest, ErrorsMapToTheirHttpStatusAndJsonBody) {
  Response r = Response::FromError(MakeError(ErrorCode::kConflict, "reused key"));
  EXPECT_EQ(r.status, 409);
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["error"]["code"], "conflict");
  EXPECT_EQ(body["error"]["message"], "reused key");
}

class HttpServerTest : public ::testing::Test {
 protected:
  std::unique_ptr<HttpServer> StartServer(Router router, ServerOptions options = {}) {
    auto server = HttpServer::Start(std::move(options), std::move(router));
    EXPECT_TRUE(server.ok()) << (server.ok() ? "" : server.error().ToString());
    return server.ok() ? std::move(server).value() : nullptr;
  }
};

TEST_F(HttpServerTest, HandlerSeesMethodPathQueryHeadersAndBody) {
  Router router;
  router.Add("POST", "/echo", [](const Request& r) {
    return Response::Json(200, {{"method", r.method},
                                {"path", r.path},
                                {"query", r.query},
                                {"header", r.Header("x-trace")},
                                {"body", r.body}});
  });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  auto exchange = RawHttpExchange(server->port(),
                                  "POST /echo/a%20b?x=1&y=2 HTTP/1.1\r\nHost: t\r\n"
                                  "X-Trace: abc\r\nContent-Length: 5\r\n\r\nhello",
                                  /*tls=*/false);
  ASSERT_TRUE(exchange.ok());
  ASSERT_EQ(StatusOf(exchange->response), 200) << exchange->response;
  auto body = nlohmann::json::parse(BodyOf(exchange->response));
  EXPECT_EQ(body["method"], "POST");
  EXPECT_EQ(body["path"], "/echo/a b");
  EXPECT_EQ(body["query"], "x=1&y=2");
  EXPECT_EQ(body["header"], "abc");
  EXPECT_EQ(body["body"], "hello");
}

TEST_F(HttpServerTest, DeclaredBodyOverTheLimitIsRefusedWith413) {
  Router router;
  router.Add("POST", "/", Named("ok"));
  ServerOptions options;
  options.max_body_bytes = 64;
  auto server = StartServer(std::move(router), options);
  ASSERT_NE(server, nullptr);
  // The client streams its body; the server answers long before the declared 100 MB.
  auto exchange = RawHttpExchange(server->port(),
                                  "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n" +
                                      std::string(256 * 1024, 'x'),
                                  false);
  ASSERT_TRUE(exchange.ok());
  EXPECT_EQ(StatusOf(exchange->response), 413) << exchange->response;
}

TEST_F(HttpServerTest, ChunkedBodyOverTheLimitIsRefusedWith413) {
  Router router;
  router.Add("POST", "/", Named("ok"));
  ServerOptions options;
  options.max_body_bytes = 64;
  auto server = StartServer(std::move(router), options);
  ASSERT_NE(server, nullptr);
  std::string chunks;
  for (int i = 0; i < 10; ++i) {
    chunks += "10\r\n" + std::string(16, 'x') + "\r\n";
  }
  auto exchange = RawHttpExchange(
      server->port(),
      "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + "0\r\n\r\n",
      false);
  ASSERT_TRUE(exchange.ok());
  EXPECT_EQ(StatusOf(exchange->response), 413) << exchange->response;
}

TEST_F(HttpServerTest, ChunkedBodyUnderTheLimitReachesTheHandler) {
  Router router;
  router.Add("POST", "/", [](const Request& r) { return Response::Text(200, r.body); });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  auto exchange = RawHttpExchange(
      server->port(),
      "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      false);
  ASSERT_TRUE(exchange.ok());
  EXPECT_EQ(BodyOf(exchange->response), "abc");
}

TEST_F(HttpServerTest, HandlerExceptionIsAnswered500) {
  Router router;
  router.Add("GET", "/", [](const Request&) -> Response { throw std::runtime_error("boom"); });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  auto exchange = RawHttpExchange(server->port(), "GET / HTTP/1.1\r\nHost: t\r\n\r\n", false);
  ASSERT_TRUE(exchange.ok());
  EXPECT_EQ(StatusOf(exchange->response), 500);
}

TEST_F(HttpServerTest, StalledClientDoesNotHoldTheOnlyWorker) {
  Router router;
  router.Add("*", "/", Named("ok"));
  ServerOptions options;
  options.worker_threads = 1;
  auto server = StartServer(std::move(router), options);
  ASSERT_NE(server, nullptr);
  // Promises 100 bytes, sends 3, then stalls (until the deadline closes the socket).
  std::thread stalled([&] {
    auto r = RawHttpExchange(server->port(),
                             "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc", false,
                             TLS1_3_VERSION, std::chrono::milliseconds(1500));
    EXPECT_TRUE(r.ok());
  });
  const auto start = std::chrono::steady_clock::now();
  auto exchange = RawHttpExchange(server->port(), "GET / HTTP/1.1\r\nHost: t\r\n\r\n", false);
  const auto took = std::chrono::steady_clock::now() - start;
  stalled.join();
  ASSERT_TRUE(exchange.ok());
  EXPECT_EQ(StatusOf(exchange->response), 200);
  EXPECT_LT(took, std::chrono::milliseconds(1000));
}

TEST_F(HttpServerTest, OperationalRoutesReportHealthReadinessAndMetrics) {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter().Name("agentbudget_test_total").Help("t").Register(*registry).Add({})
      .Increment();
  std::atomic<bool> ready{false};
  Router router;
  AddOperationalRoutes(
      router,
      [&ready]() -> Status {
        return ready ? OkStatus() : MakeError(ErrorCode::kFailedPrecondition, "caches syncing");
      },
      registry);
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  auto get = [&](const std::string& path) {
    auto r = RawHttpExchange(server->port(), "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n", false);
    return r.ok() ? r->response : std::string();
  };
  EXPECT_EQ(StatusOf(get("/healthz")), 200);
  std::string not_ready = get("/readyz");
  EXPECT_EQ(StatusOf(not_ready), 503);
  EXPECT_NE(BodyOf(not_ready).find("caches syncing"), std::string::npos);
  ready = true;
  EXPECT_EQ(StatusOf(get("/readyz")), 200);
  EXPECT_NE(BodyOf(get("/metrics")).find("agentbudget_test_total 1"), std::string::npos);
}

class HttpsServerTest : public HttpServerTest {
 protected:
  void SetUp() override {
    auto files = testing::WriteSelfSignedCertificate(dir_.path(), "serving", "first");
    ASSERT_TRUE(files.ok());
    files_ = *files;
  }
  ServerOptions TlsOptionsFor(std::chrono::milliseconds interval) {
    ServerOptions options;
    options.tls = TlsOptions{files_.cert_file, files_.key_file, interval};
    return options;
  }
  testing::TempDir dir_;
  testing::CertificateFiles files_;
};

TEST_F(HttpsServerTest, ServesTls12AndRefusesTls11) {
  Router router;
  router.Add("GET", "/", Named("ok"));
  auto server = StartServer(std::move(router), TlsOptionsFor(std::chrono::seconds(1)));
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->url().rfind("https://", 0), 0u);
  const std::string get = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
  auto tls12 = RawHttpExchange(server->port(), get, true, TLS1_2_VERSION);
  ASSERT_TRUE(tls12.ok());
  EXPECT_EQ(StatusOf(tls12->response), 200);
  auto tls11 = RawHttpExchange(server->port(), get, true, TLS1_1_VERSION);
  EXPECT_FALSE(tls11.ok());
}

TEST_F(HttpsServerTest, RotatedCertificateIsServedWithoutRestart) {
  Router router;
  router.Add("GET", "/", Named("ok"));
  auto server = StartServer(std::move(router), TlsOptionsFor(std::chrono::milliseconds(0)));
  ASSERT_NE(server, nullptr);
  const std::string get = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
  auto before = RawHttpExchange(server->port(), get, true);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->peer_subject, "/CN=first");
  ASSERT_TRUE(testing::WriteSelfSignedCertificate(dir_.path(), "serving", "second").ok());
  auto after = RawHttpExchange(server->port(), get, true);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->peer_subject, "/CN=second");
  EXPECT_EQ(server->certificate_reloads(), 1u);
}

TEST_F(HttpsServerTest, StartFailsClearlyWhenTheKeyFileIsMissing) {
  ServerOptions options;
  options.tls = TlsOptions{files_.cert_file, dir_.path() + "/absent.key"};
  auto server = HttpServer::Start(options, Router());
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(server.error().message.find("absent.key"), std::string::npos);
}

}  // namespace
}  // namespace agentbudget::http
