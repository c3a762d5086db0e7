#include "meter/http_authority_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/http_server.h"
#include "core/usage.h"
#include "meter/enforcer.h"
#include "operator/certs/x509.h"
#include "tests/meter/fake_authority.h"
#include "tests/meter/free_port.h"
#include "tests/meter/scripted_server.h"

namespace agentbudget::meter {
namespace {

using nlohmann::json;
using testing::ScriptedServer;
using testing::AdmitNow;

// The client's answer to `request`, waited for.
Result<Reservation> ReserveNow(AuthorityClient& client, const ReserveRequest& request) {
  std::promise<Result<Reservation>> answered;
  client.Reserve(request, [&answered](Result<Reservation> reservation) {
    answered.set_value(std::move(reservation));
  });
  return answered.get_future().get();
}

void Reply(web::http::http_request request, int status, const std::string& body) {
  request.reply(static_cast<web::http::status_code>(status), body, "application/json").wait();
}

// The requests of the one call `server` saw, which must be a POST /v1/batch; none if not.
json OneBatchSent(ScriptedServer& server) {
  const auto seen = server.seen();
  EXPECT_EQ(seen.size(), 1u);
  if (seen.size() != 1 || seen[0].first != "/v1/batch") {
    ADD_FAILURE() << "not one batch";
    return json::array();
  }
  return json::parse(seen[0].second)["requests"];
}

std::unique_ptr<HttpAuthorityClient> Client(const std::string& url,
                                            const std::string& token_file = "") {
  auto client =
      HttpAuthorityClient::Create({url, token_file, "", "", std::chrono::milliseconds(2000)});
  EXPECT_TRUE(client.ok());
  return std::move(*client);
}

TEST(HttpAuthorityClientTest, ReservesWithTheProtocolBodyAndBearerToken) {
  std::string authorization;
  ScriptedServer server([&](web::http::http_request request, const std::string&) {
    authorization = request.headers()[web::http::header_names::authorization];
    Reply(request, 200,
          R"({"id":"r-1","decision":"degrade","model":"claude-haiku-4-5",
              "reason":"budget team at 82%","expiresAt":"2026-11-27T21:00:00Z"})");
  });
  const std::string token_file = ::testing::TempDir() + "/token";
  std::ofstream(token_file) << "pod-token\n";
  auto reservation = ReserveNow(*Client(server.url(), token_file),
                                {"k1", "anthropic", "claude-sonnet-4-5",
                                 core::Money::FromMicros(42'500), 12000});
  ASSERT_TRUE(reservation.ok()) << reservation.error().message;
  EXPECT_EQ(reservation->id, "r-1");
  EXPECT_EQ(reservation->decision, Decision::kDegrade);
  EXPECT_EQ(reservation->model, "claude-haiku-4-5");
  EXPECT_EQ(reservation->reason, "budget team at 82%");
  EXPECT_EQ(authorization, "Bearer pod-token");
  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].first, "/v1/reservations");
  EXPECT_EQ(json::parse(seen[0].second),
            json::parse(R"({"idempotencyKey":"k1","provider":"anthropic",
                            "model":"claude-sonnet-4-5",
                            "estimate":{"cost":"0.0425","tokens":12000}})"));
}

TEST(HttpAuthorityClientTest, CommitsUsageAndCostToTheReservation) {
  ScriptedServer server([](web::http::http_request request, const std::string&) {
    Reply(request, 200, R"({"id":"r-1","committed":true,"cost":"0.0021"})");
  });
  Status committed = Client(server.url())->Commit(
      {"r-1", "k1-commit", "claude-haiku-4-5", core::Usage{1000, 0, 0, 0, 200, 0},
       core::Money::FromMicros(2100), false});
  ASSERT_TRUE(committed.ok()) << committed.error().message;
  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].first, "/v1/reservations/r-1/commit");
  const json body = json::parse(seen[0].second);
  EXPECT_EQ(body["cost"], "0.0021");
  EXPECT_EQ(body["usage"]["output"], 200);
  EXPECT_EQ(body["estimated"], false);
}

TEST(HttpAuthorityClientTest, MapsProtocolErrorsToCodesWithTheServersMessage) {
  const std::pair<int, ErrorCode> cases[] = {{400, ErrorCode::kInvalidArgument},
                                             {401, ErrorCode::kUnauthenticated},
                                             {403, ErrorCode::kPermissionDenied},
                                             {404, ErrorCode::kNotFound},
                                             {409, ErrorCode::kConflict},
                                             {503, ErrorCode::kUnavailable}};
  for (const auto& [status, code] : cases) {
    ScriptedServer server([status](web::http::http_request request, const std::string&) {
      Reply(request, status, R"({"error":{"code":"x","message":"scripted failure"}})");
    });
    Status released = Client(server.url())->Release("r-1", "k-release");
    ASSERT_FALSE(released.ok()) << status;
    EXPECT_EQ(released.error().code, code) << status;
    EXPECT_NE(released.error().message.find("scripted failure"), std::string::npos);
  }
}

TEST(HttpAuthorityClientTest, AnUnreachableAuthorityIsUnavailable) {
  const int port = testing::FreePort();
  auto reservation = ReserveNow(*Client("http://127.0.0.1:" + std::to_string(port)),
                                {"k", "openai", "gpt-5", core::Money(), 1});
  ASSERT_FALSE(reservation.ok());
  EXPECT_TRUE(IsRetryable(reservation.error().code));
}

// An authority that accepted the connection but stays silent: the call ends after the
// client's timeout as kDeadlineExceeded (retryable, so failureMode decides), not never.
// Reservations of many calls arriving together: at most 16 are open at the authority at
// once (the pool's connections are reused, none opened per call), the rest wait their turn,
// and every one is answered.
TEST(HttpAuthorityClientTest, ManyReservationsAtOnceKeepSixteenOpenAndAreAllAnswered) {
  Mutex mu;
  std::vector<web::http::http_request> held;  // under mu
  ScriptedServer server([&](web::http::http_request request, const std::string&) {
    MutexLock lock(mu);
    held.push_back(std::move(request));  // answered below, when the test says
  });
  auto client = Client(server.url());
  constexpr int kCalls = 64;
  std::atomic<int> answered{0};
  std::atomic<int> allowed{0};
  for (int i = 0; i < kCalls; ++i) {
    client->Reserve({"k" + std::to_string(i), "openai", "gpt-5", core::Money(), 1},
                    [&](Result<Reservation> reservation) {
                      allowed += reservation.ok() && reservation->decision == Decision::kAllow;
                      ++answered;
                    });
  }
  const auto held_count = [&] {
    MutexLock lock(mu);
    return held.size();
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (held_count() < 16 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Give a 17th call every chance to arrive: it must not.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(held_count(), 16u);
  EXPECT_EQ(answered.load(), 0);
  while (answered.load() < kCalls && std::chrono::steady_clock::now() < deadline) {
    std::vector<web::http::http_request> now;
    {
      MutexLock lock(mu);
      now.swap(held);
    }
    for (auto& request : now) {
      Reply(request, 200, R"({"id":"r-1","decision":"allow"})");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(answered.load(), kCalls);
  EXPECT_EQ(allowed.load(), kCalls);
  EXPECT_EQ(server.seen().size(), static_cast<size_t>(kCalls));
}

// A client of `server` whose reservations wait 200 ms for an answer.
Result<std::unique_ptr<HttpAuthorityClient>> ImpatientClient(const http::HttpServer& server) {
  return HttpAuthorityClient::Create({server.url(), "", "", "", std::chrono::milliseconds(200)});
}

TEST(HttpAuthorityClientTest, ASilentAuthorityTimesOut) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  http::Router router;
  router.Add("POST", "/v1/reservations", [released](const http::Request&) {
    released.wait_for(std::chrono::seconds(10));
    return http::Response::Json(200, {{"id", "r-late"}, {"decision", "allow"}});
  });
  auto server = http::HttpServer::Start(http::ServerOptions{}, std::move(router));
  ASSERT_TRUE(server.ok()) << server.error().message;
  auto client = ImpatientClient(**server);
  ASSERT_TRUE(client.ok());
  auto reservation = ReserveNow(**client, {"k", "openai", "gpt-5", core::Money(), 1});
  release.set_value();
  ASSERT_FALSE(reservation.ok());
  EXPECT_EQ(reservation.error().code, ErrorCode::kDeadlineExceeded)
      << reservation.error().message;
}

// A batch waits for the authority's group commit: it is not failed (and resent on top of
// itself) after a reservation's timeout, only after kWriteTimeout.
TEST(HttpAuthorityClientTest, AWriteWaitsLongerThanAReservation) {
  http::Router router;
  router.Add("POST", "/v1/batch", [](const http::Request&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    return http::Response::Json(
        200, {{"answers", {{{"status", 200}, {"body", {{"committed", true}}}}}}});
  });
  router.Add("POST", "/v1/reservations", [](const http::Request&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    return http::Response::Json(200, {{"id", "r-late"}, {"decision", "allow"}});
  });
  auto server = http::HttpServer::Start(http::ServerOptions{}, std::move(router));
  ASSERT_TRUE(server.ok()) << server.error().message;
  auto client = ImpatientClient(**server);
  ASSERT_TRUE(client.ok());
  const std::vector<Write> writes{EventRequest{"e1", "compute", core::Money(), 0, "x"}};
  auto answers = (*client)->CommitBatch(writes);
  ASSERT_TRUE(answers.ok()) << answers.error().message;
  ASSERT_EQ(answers->size(), 1u);
  EXPECT_TRUE((*answers)[0].ok());
  auto reservation = ReserveNow(**client, {"k", "openai", "gpt-5", core::Money(), 1});
  ASSERT_FALSE(reservation.ok());
  EXPECT_EQ(reservation.error().code, ErrorCode::kDeadlineExceeded);
}

TEST(HttpAuthorityClientTest, RejectsMalformedAnswers) {
  ScriptedServer server([](web::http::http_request request, const std::string&) {
    Reply(request, 200, R"({"id":"r-1","decision":"maybe"})");
  });
  auto reservation =
      ReserveNow(*Client(server.url()), {"k", "openai", "gpt-5", core::Money(), 1});
  ASSERT_FALSE(reservation.ok());
  EXPECT_NE(reservation.error().message.find("unknown decision \"maybe\""), std::string::npos);
}

TEST(HttpAuthorityClientTest, RefusesAReservationIdThatIsNotOnePathSegment) {
  ScriptedServer server([](web::http::http_request request, const std::string&) {
    Reply(request, 200, R"({"id":"r-1/../../v1/events?x=","decision":"allow"})");
  });
  auto reservation =
      ReserveNow(*Client(server.url()), {"k", "openai", "gpt-5", core::Money(), 1});
  ASSERT_FALSE(reservation.ok());
  EXPECT_EQ(reservation.error().code, ErrorCode::kInternal);
  EXPECT_NE(reservation.error().message.find("is not 1..64 letters"), std::string::npos);
}

TEST(HttpAuthorityClientTest, AnEnforcersCeilingReportIsAZeroCostEvent) {
  ScriptedServer server([](web::http::http_request request, const std::string&) {
    Reply(request, 200, R"({"answers":[{"status":200,"body":{"id":"e-1","committed":true}}]})");
  });
  const std::string dir = ::testing::TempDir() + "/ceiling-report-spool";
  std::filesystem::remove_all(dir);
  Enforcer::Options options;
  options.limits.max_cost = core::Money::FromMicros(10);
  options.run = "run-1";
  Enforcer enforcer(options, Client(server.url()), CommitSpool::Open(dir).value());
  const Admission denied =
      AdmitNow(enforcer, "anthropic", "m", 1, core::Money::FromMicros(100), 5);
  ASSERT_FALSE(denied.allowed);
  ASSERT_TRUE(enforcer.Drain(std::chrono::seconds(10)));
  const json requests = OneBatchSent(server);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0]["path"], "/v1/events");
  EXPECT_EQ(requests[0]["body"],
            (json{{"idempotencyKey", denied.idempotency_key + "-ceiling"},
                  {"kind", "ceiling:maxCost"},
                  {"cost", "0"},
                  {"tokens", 0},
                  {"description", denied.reason}}));
  std::filesystem::remove_all(dir);
}

// A batch carries each write as its own call's path and body, and each answer is read as
// that call's would be.
TEST(HttpAuthorityClientTest, ABatchIsAnsweredPerWrite) {
  ScriptedServer server([](web::http::http_request request, const std::string&) {
    Reply(request, 200, R"({"answers":[
        {"status":200,"body":{"id":"r-1","committed":true,"cost":"0.0021"}},
        {"status":409,"body":{"error":{"code":"conflict","message":"key reused"}}},
        {"status":200,"body":{"id":"e-1"}}]})");
  });
  const CommitRequest commit{"r-1", "k1-commit", "claude-haiku-4-5",
                             core::Usage{1000, 0, 0, 0, 200, 0}, core::Money::FromMicros(2100),
                             false};
  const EventRequest event{"k2-commit", "llm", core::Money::FromMicros(5), 3, "LLM call"};
  auto answers = Client(server.url())->CommitBatch({commit, commit, event});
  ASSERT_TRUE(answers.ok()) << answers.error().message;
  ASSERT_EQ(answers->size(), 3u);
  EXPECT_TRUE((*answers)[0].ok());
  EXPECT_EQ((*answers)[1].error().code, ErrorCode::kConflict);
  EXPECT_NE((*answers)[1].error().message.find("key reused"), std::string::npos);
  EXPECT_EQ((*answers)[2].error().code, ErrorCode::kInternal);  // does not say committed
  const json requests = json::parse(server.seen()[0].second)["requests"];
  EXPECT_EQ(requests[0]["path"], "/v1/reservations/r-1/commit");
  EXPECT_EQ(requests[0]["body"]["cost"], "0.0021");
  EXPECT_EQ(requests[2]["path"], "/v1/events");
  EXPECT_EQ(requests[2]["body"]["tokens"], 3);
}

// The batch's body, written as text write by write, is the document of its calls as JSON
// would write it, byte for byte.
TEST(HttpAuthorityClientTest, ABatchBodyIsTheDocumentOfItsCalls) {
  ScriptedServer server([](web::http::http_request request, const std::string&) {
    Reply(request, 200, R"({"answers":[{"status":200,"body":{"committed":true}},
                                       {"status":200,"body":{"committed":true}}]})");
  });
  const CommitRequest commit{"r-1", "k1-commit", "claude \"haiku\"",
                             core::Usage{1000, 0, 0, 0, 200, 0}, core::Money::FromMicros(2100),
                             true};
  const EventRequest event{"k2", "llm", core::Money::FromMicros(5), 3, "LLM call\n"};
  auto answers = Client(server.url())->CommitBatch({commit, event});
  ASSERT_TRUE(answers.ok()) << answers.error().message;
  EXPECT_TRUE((*answers)[0].ok());
  EXPECT_TRUE((*answers)[1].ok());
  const json expected{
      {"requests",
       json::array({json{{"path", "/v1/reservations/r-1/commit"},
                         {"body",
                          {{"idempotencyKey", "k1-commit"},
                           {"model", "claude \"haiku\""},
                           {"usage", core::UsageToJson(commit.usage)},
                           {"cost", "0.0021"},
                           {"estimated", true}}}},
                    json{{"path", "/v1/events"},
                         {"body",
                          {{"idempotencyKey", "k2"},
                           {"kind", "llm"},
                           {"cost", event.cost.ToString()},
                           {"tokens", 3},
                           {"description", "LLM call\n"}}}}})}};
  EXPECT_EQ(server.seen().at(0).second, expected.dump());
}

TEST(HttpAuthorityClientTest, ABatchFailsWholeWhenTheAnswerIsNotOnePerWrite) {
  ScriptedServer server([](web::http::http_request request, const std::string&) {
    Reply(request, 200, R"({"answers":[]})");
  });
  const EventRequest event{"k", "llm", core::Money(), 0, ""};
  auto answers = Client(server.url())->CommitBatch({event});
  ASSERT_FALSE(answers.ok());
  EXPECT_EQ(answers.error().code, ErrorCode::kInternal);
}

// The client's answers to `requests` in one batch, waited for.
Result<std::vector<Result<Reservation>>> ReserveBatchNow(AuthorityClient& client,
                                                         std::vector<ReserveRequest> requests) {
  std::promise<Result<std::vector<Result<Reservation>>>> answered;
  client.ReserveBatch(std::move(requests),
                      [&answered](Result<std::vector<Result<Reservation>>> answers) {
                        answered.set_value(std::move(answers));
                      });
  return answered.get_future().get();
}

TEST(HttpAuthorityClientTest, ReservationsInOneBatchAreAnsweredEachAsAlone) {
  ScriptedServer server([](web::http::http_request request, const std::string&) {
    Reply(request, 200, R"({"answers":[
        {"status":200,"body":{"id":"r-1","decision":"allow"}},
        {"status":200,"body":{"id":"r-2","decision":"degrade","model":"claude-haiku-4-5",
                              "reason":"team at 82%"}},
        {"status":400,"body":{"error":{"code":"invalid_argument","message":"bad estimate"}}},
        {"status":200,"body":{"id":"r/3","decision":"allow"}}]})");
  });
  const ReserveRequest one{"k1", "anthropic", "claude-sonnet-4-5",
                           core::Money::FromMicros(50'000), 1250, /*ahead=*/true};
  ReserveRequest two = one;
  two.idempotency_key = "k2";
  auto answers = ReserveBatchNow(*Client(server.url()), {one, two, two, two});
  ASSERT_TRUE(answers.ok()) << answers.error().message;
  ASSERT_EQ(answers->size(), 4u);
  ASSERT_TRUE((*answers)[0].ok());
  EXPECT_EQ((*answers)[0]->id, "r-1");
  EXPECT_EQ((*answers)[0]->model, "claude-sonnet-4-5");
  ASSERT_TRUE((*answers)[1].ok());
  EXPECT_EQ((*answers)[1]->decision, Decision::kDegrade);
  EXPECT_EQ((*answers)[1]->model, "claude-haiku-4-5");
  EXPECT_EQ((*answers)[1]->reason, "team at 82%");
  EXPECT_EQ((*answers)[2].error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE((*answers)[2].error().message.find("bad estimate"), std::string::npos);
  EXPECT_EQ((*answers)[3].error().code, ErrorCode::kInternal);  // an id that is no segment
  const json requests = OneBatchSent(server);
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[0]["path"], "/v1/reservations");
  EXPECT_EQ(requests[0]["body"],
            json::parse(R"({"idempotencyKey":"k1","provider":"anthropic",
                            "model":"claude-sonnet-4-5","ahead":true,
                            "estimate":{"cost":"0.05","tokens":1250}})"));
  EXPECT_EQ(requests[1]["body"]["idempotencyKey"], "k2");
}

TEST(HttpAuthorityClientTest, AReservationBatchFailsWholeOnAnErrorOfTheCall) {
  ScriptedServer server([](web::http::http_request request, const std::string&) {
    Reply(request, 404, R"({"error":{"code":"not_found","message":"no such endpoint"}})");
  });
  const ReserveRequest one{"k1", "anthropic", "m", core::Money::FromMicros(1), 1, true};
  auto answers = ReserveBatchNow(*Client(server.url()), {one});
  ASSERT_FALSE(answers.ok());
  EXPECT_EQ(answers.error().code, ErrorCode::kNotFound);
}

TEST(HttpAuthorityClientTest, FetchesTheProviderKeysWithTheBearerToken) {
  std::string method;
  std::string authorization;
  ScriptedServer server([&](web::http::http_request request, const std::string&) {
    method = request.method();
    authorization = request.headers()[web::http::header_names::authorization];
    Reply(request, 200, R"({"anthropicApiKey":"sk-ant-1"})");
  });
  const std::string token_file = ::testing::TempDir() + "/credentials-token";
  std::ofstream(token_file) << "pod-token\n";
  auto credentials = Client(server.url(), token_file)->FetchCredentials();
  ASSERT_TRUE(credentials.ok()) << credentials.error().message;
  EXPECT_EQ(credentials->anthropic_api_key, "sk-ant-1");
  EXPECT_EQ(credentials->openai_api_key, "");
  EXPECT_EQ(method, "GET");
  EXPECT_EQ(authorization, "Bearer pod-token");
  EXPECT_EQ(server.seen().at(0).first, "/v1/credentials");
}

TEST(HttpAuthorityClientTest, AWorkloadWithoutAuthorityKeysIsRefused) {
  ScriptedServer server([](web::http::http_request request, const std::string&) {
    Reply(request, 403, R"({"error":{"code":"permission_denied","message":"keySource Secret"}})");
  });
  auto credentials = Client(server.url())->FetchCredentials();
  ASSERT_FALSE(credentials.ok());
  EXPECT_EQ(credentials.error().code, ErrorCode::kPermissionDenied);
}

// The authority's CA as PEM text (AGENTBUDGET_AUTHORITY_CA), as the operator issues it: the
// certificate it signed verifies; a client that trusts another CA cannot connect.
TEST(HttpAuthorityClientTest, TrustsTheAuthorityCaGivenAsPemText) {
  const auto now = std::chrono::system_clock::now();
  auto ca = certs::GenerateCa("authority-ca", now, std::chrono::hours(1));
  auto other = certs::GenerateCa("other-ca", now, std::chrono::hours(1));
  ASSERT_TRUE(ca.ok() && other.ok());
  auto serving = certs::IssueServing(*ca, {"127.0.0.1"}, now, std::chrono::hours(1));
  ASSERT_TRUE(serving.ok());
  const std::string cert_file = ::testing::TempDir() + "/authority-tls.crt";
  const std::string key_file = ::testing::TempDir() + "/authority-tls.key";
  std::ofstream(cert_file) << serving->cert_pem;
  std::ofstream(key_file) << serving->key_pem;
  http::ServerOptions options;
  options.tls = http::TlsOptions{cert_file, key_file};
  http::Router router;
  router.Add("GET", "/v1/credentials", [](const http::Request&) {
    return http::Response::Json(200, {{"openaiApiKey", "sk-oa-1"}});
  });
  auto server = http::HttpServer::Start(options, std::move(router));
  ASSERT_TRUE(server.ok()) << server.error().message;
  auto trusting = HttpAuthorityClient::Create(
      {(*server)->url(), "", "", ca->cert_pem, std::chrono::milliseconds(5000)});
  ASSERT_TRUE(trusting.ok()) << trusting.error().message;
  auto credentials = (*trusting)->FetchCredentials();
  ASSERT_TRUE(credentials.ok()) << credentials.error().message;
  EXPECT_EQ(credentials->openai_api_key, "sk-oa-1");
  auto distrusting = HttpAuthorityClient::Create(
      {(*server)->url(), "", "", other->cert_pem, std::chrono::milliseconds(5000)});
  ASSERT_TRUE(distrusting.ok());
  auto refused = (*distrusting)->FetchCredentials();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
}

TEST(HttpAuthorityClientTest, ACaThatHoldsNoCertificateIsRefusedAtStart) {
  auto client = HttpAuthorityClient::Create(
      {"https://127.0.0.1:1", "", "", "not a certificate", std::chrono::milliseconds(1000)});
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(client.error().message.find("AGENTBUDGET_AUTHORITY_CA"), std::string::npos);
}

}  // namespace
}  // namespace agentbudget::meter
