#include "operator/authority/api.h"

#include <gtest/gtest.h>

#include <future>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "tests/authority/fake_clock.h"
#include "tests/authority/ledger_test_support.h"

namespace agentbudget::authority {
namespace {

using nlohmann::json;

// Tokens issued to two pods of two different runs.
class FakeAuthenticator final : public Authenticator {
 public:
  Result<Caller> Authenticate(const std::string& token) override {
    auto found = callers_.find(token);
    if (found == callers_.end()) {
      return MakeError(ErrorCode::kUnauthenticated, "token rejected by TokenReview");
    }
    return found->second;
  }
  std::map<std::string, Caller> callers_ = {{"token-a", MakeCaller("run-a", "payments", "alice")},
                                            {"token-b", MakeCaller("run-b", "payments", "bob")},
                                            {"token-c", KeysInTheAuthority()}};

  // A pod of a workload whose meter gets its provider keys from the authority.
  static Caller KeysInTheAuthority() {
    Caller caller = MakeCaller("run-c", "search", "carol");
    caller.key_source = KeySource::kAuthority;
    return caller;
  }
};

class AuthorityApiTest : public ::testing::Test {
 protected:
  AuthorityApiTest() {
    ledger_.UpsertBudget(MakeBudget("org", {{"limit", {{"amount", "100"}}}}));
  }

  http::Response Post(const std::string& token, const std::string& path, const json& body) {
    http::Request request;
    request.method = "POST";
    request.path = path;
    request.headers["Authorization"] = "Bearer " + token;
    request.body = body.dump();
    return api_.Handle(request);
  }

  http::Response Get(const std::string& token, const std::string& path) {
    http::Request request;
    request.method = "GET";
    request.path = path;
    request.headers["Authorization"] = "Bearer " + token;
    return api_.Handle(request);
  }

  std::string Reserve(const std::string& token, const std::string& key) {
    auto response = Post(token, "/v1/reservations",
                         {{"idempotencyKey", key}, {"provider", "anthropic"},
                          {"model", "claude-sonnet-4-5"}, {"estimate", {{"cost", "0.5"}, {"tokens", 1000}}}});
    EXPECT_EQ(response.status, 200) << response.body;
    return json::parse(response.body)["id"];
  }

  static json CommitBody(const std::string& key, const std::string& cost) {
    return {{"idempotencyKey", key}, {"model", "claude-sonnet-4-5"},
            {"usage", {{"input", 1000}, {"output", 200}}}, {"cost", cost}, {"estimated", false}};
  }

  FakeClock clock_{std::chrono::system_clock::time_point{std::chrono::seconds{1'795'780'800}}};
  InMemoryLedgerStore store_;
  Ledger ledger_{clock_, store_, TestRates(), Ledger::Options{},
                 GroupCommitter::Options{std::chrono::milliseconds{5}, 100}};
  FakeAuthenticator authenticator_;
  Status serving_ = OkStatus();
  Result<ProviderKeys> keys_ = ProviderKeys{"sk-ant-1", ""};
  AuthorityApi api_{ledger_, authenticator_, [this] { return serving_; }, [this] { return keys_; }};
};

TEST_F(AuthorityApiTest, ReserveThenCommitChargesTheBudget) {
  const std::string id = Reserve("token-a", "k1");
  auto commit = Post("token-a", "/v1/reservations/" + id + "/commit", CommitBody("c1", "0.0021"));
  ASSERT_EQ(commit.status, 200) << commit.body;
  EXPECT_EQ(json::parse(commit.body), json({{"id", id}, {"committed", true}, {"cost", "0.0021"}}));
  auto budgets = json::parse(Get("token-a", "/v1/budgets").body);
  EXPECT_EQ(budgets["budgets"][0]["spent"], "0.0021");
}

TEST_F(AuthorityApiTest, AnotherPodsTokenCannotCommitThisRunsReservation) {
  const std::string id = Reserve("token-a", "k1");
  auto commit = Post("token-b", "/v1/reservations/" + id + "/commit", CommitBody("c1", "0.5"));
  EXPECT_EQ(commit.status, 403);
  EXPECT_EQ(json::parse(commit.body)["error"]["code"], "permission_denied");
}

TEST_F(AuthorityApiTest, AnotherPodsTokenCannotReleaseThisRunsReservation) {
  const std::string id = Reserve("token-a", "k1");
  auto release = Post("token-b", "/v1/reservations/" + id + "/release", {{"idempotencyKey", "r1"}});
  EXPECT_EQ(release.status, 403);
  // The reservation still holds: its own run commits it.
  EXPECT_EQ(Post("token-a", "/v1/reservations/" + id + "/commit", CommitBody("c1", "0.5")).status,
            200);
}

TEST_F(AuthorityApiTest, APodReadsOnlyItsOwnRun) {
  Reserve("token-a", "k1");
  EXPECT_EQ(Get("token-a", "/v1/runs/run-a").status, 200);
  auto other = Get("token-b", "/v1/runs/run-a");
  EXPECT_EQ(other.status, 403);
  EXPECT_EQ(other.body.find("spent"), std::string::npos);
}

TEST_F(AuthorityApiTest, APodSeesOnlyTheBudgetsThatChargeItsRun) {
  ledger_.UpsertBudget(MakeBudget(
      "search", {{"limit", {{"amount", "10"}}}, {"selector", {{"matchLabels", {{"team", "search"}}}}}}));
  auto budgets = json::parse(Get("token-a", "/v1/budgets").body)["budgets"];
  ASSERT_EQ(budgets.size(), 1U);
  EXPECT_EQ(budgets[0]["name"], "org");
  EXPECT_EQ(json::parse(Get("token-c", "/v1/budgets").body)["budgets"].size(), 2U);
}

TEST_F(AuthorityApiTest, ProviderKeysGoOnlyToPodsWhoseWorkloadKeepsThemInTheAuthority) {
  auto refused = Get("token-a", "/v1/credentials");
  EXPECT_EQ(refused.status, 403);
  EXPECT_NE(refused.body.find("spec.meter.keySource"), std::string::npos);
  EXPECT_EQ(refused.body.find("sk-ant-1"), std::string::npos);
  auto keys = Get("token-c", "/v1/credentials");
  ASSERT_EQ(keys.status, 200) << keys.body;
  EXPECT_EQ(json::parse(keys.body), json({{"anthropicApiKey", "sk-ant-1"}}));
  EXPECT_EQ(keys.headers["Cache-Control"], "no-store");
  EXPECT_EQ(Get("", "/v1/credentials").status, 401);
}

TEST_F(AuthorityApiTest, ProviderKeysTheAuthorityCannotReadAreRetryable) {
  keys_ = Unavailable("Secret agentbudget-system/agentbudget-provider-keys does not exist");
  auto answer = Get("token-c", "/v1/credentials");
  EXPECT_EQ(answer.status, 503);
  EXPECT_EQ(answer.headers["Retry-After"], "1");
}

TEST_F(AuthorityApiTest, MissingOrRejectedTokensAreUnauthenticated) {
  EXPECT_EQ(Post("", "/v1/reservations", json::object()).status, 401);
  EXPECT_EQ(Post("forged", "/v1/reservations", json::object()).status, 401);
}

TEST_F(AuthorityApiTest, ReusedKeyWithADifferentBodyIs409) {
  const std::string id = Reserve("token-a", "k1");
  ASSERT_EQ(Post("token-a", "/v1/reservations/" + id + "/commit", CommitBody("c1", "0.1")).status, 200);
  auto reused = Post("token-a", "/v1/reservations/" + id + "/commit", CommitBody("c1", "0.2"));
  EXPECT_EQ(reused.status, 409);
  EXPECT_EQ(json::parse(reused.body)["error"]["code"], "conflict");
}

TEST_F(AuthorityApiTest, FollowerAnswersRetryable503) {
  serving_ = Unavailable("not the leader");
  auto response = Post("token-a", "/v1/reservations", json::object());
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.headers["Retry-After"], "1");
}

TEST_F(AuthorityApiTest, MalformedBodiesAre400WithTheField) {
  http::Request request;
  request.method = "POST";
  request.path = "/v1/reservations";
  request.headers["Authorization"] = "Bearer token-a";
  for (const char* body : {"", "{", "[]", R"({"idempotencyKey": "k"})",
                           R"({"idempotencyKey": "k", "model": "m", "estimate": {"cost": 1}})",
                           R"({"idempotencyKey": "k", "model": "m", "estimate": {"cost": "-1"}})",
                           R"({"idempotencyKey": "k", "model": "m", "estimate": {"tokens": -1}})"}) {
    request.body = body;
    auto response = api_.Handle(request);
    EXPECT_EQ(response.status, 400) << body;
    EXPECT_EQ(json::parse(response.body)["error"]["code"], "invalid_argument") << body;
  }
}

TEST_F(AuthorityApiTest, EventIsCommittedAndReplayedWithTheSameAnswer) {
  const json body = {{"idempotencyKey", "e1"}, {"kind", "compute"}, {"cost", "0.0008"},
                     {"tokens", 0}, {"description", "sandbox minutes"}};
  auto first = Post("token-a", "/v1/events", body);
  auto again = Post("token-a", "/v1/events", body);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.body, again.body);
  auto run = json::parse(Get("token-a", "/v1/runs/run-a").body);
  EXPECT_EQ(run["spent"], "0.0008");
}

TEST_F(AuthorityApiTest, ReleaseAnswersReleased) {
  const std::string id = Reserve("token-a", "k1");
  auto release = Post("token-a", "/v1/reservations/" + id + "/release", {{"idempotencyKey", "r1"}});
  ASSERT_EQ(release.status, 200);
  EXPECT_EQ(json::parse(release.body)["released"], true);
}

TEST_F(AuthorityApiTest, AsyncCommitAnswerOutlivesTheRequestThatCausedIt) {
  const std::string id = Reserve("token-a", "k1");
  auto answered = std::make_shared<std::promise<http::Response>>();
  auto future = answered->get_future();
  {
    // Destroyed before the commit is durable: the answer must not refer to it.
    auto request = std::make_unique<http::Request>();
    request->method = "POST";
    request->path = "/v1/reservations/" + id + "/commit";
    request->headers["Authorization"] = "Bearer token-a";
    request->body = CommitBody("c1", "0.0021").dump();
    api_.HandleAsync(*request, [answered](http::Response response) {
      answered->set_value(std::move(response));
    });
  }
  ASSERT_EQ(future.wait_for(std::chrono::seconds{5}), std::future_status::ready);
  const http::Response response = future.get();
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(json::parse(response.body), json({{"id", id}, {"committed", true}, {"cost", "0.0021"}}));
}

TEST_F(AuthorityApiTest, AsyncReplayOfAPendingCommitIsAnsweredWithTheFirst) {
  const std::string id = Reserve("token-a", "k1");
  store_.FailNextAppends(2);  // keeps the first commit pending for a few intervals
  std::vector<std::future<http::Response>> answers;
  for (int i = 0; i < 2; ++i) {
    auto answered = std::make_shared<std::promise<http::Response>>();
    answers.push_back(answered->get_future());
    http::Request request;
    request.method = "POST";
    request.path = "/v1/reservations/" + id + "/commit";
    request.headers["Authorization"] = "Bearer token-a";
    request.body = CommitBody("c1", "0.0021").dump();
    api_.HandleAsync(request, [answered](http::Response response) {
      answered->set_value(std::move(response));
    });
  }
  for (auto& answer : answers) {
    ASSERT_EQ(answer.wait_for(std::chrono::seconds{5}), std::future_status::ready);
    const http::Response response = answer.get();
    EXPECT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(json::parse(response.body)["cost"], "0.0021");
  }
  EXPECT_EQ(store_.Load()->size(), 1U);
}

// Each request of a batch is answered exactly as the same request on its own: replaying the
// batch's commit alone gets the batch's answer, and a reused key still conflicts.
TEST_F(AuthorityApiTest, ABatchAnswersEachRequestAsItsOwnCallWould) {
  const std::string id = Reserve("token-a", "k1");
  const std::string other = Reserve("token-b", "k2");
  const json event = {{"idempotencyKey", "e1"}, {"kind", "llm"}, {"cost", "0.0008"},
                      {"tokens", 7}, {"description", "LLM call"}};
  const json reservation = {{"idempotencyKey", "k3"}, {"provider", "anthropic"},
                            {"model", "claude-sonnet-4-5"}, {"ahead", true},
                            {"estimate", {{"cost", "0.5"}, {"tokens", 1000}}}};
  const json requests = json::array({
      {{"path", "/v1/reservations/" + id + "/commit"}, {"body", CommitBody("c1", "0.0021")}},
      {{"path", "/v1/reservations/r-unknown/commit"}, {"body", CommitBody("c2", "0.1")}},
      {{"path", "/v1/events"}, {"body", event}},
      {{"path", "/v1/reservations/" + other + "/commit"}, {"body", CommitBody("c3", "0.1")}},
      {{"path", "/v1/reservations"}, {"body", json::object()}},
      {{"path", "/v1/reservations/" + id + "/commit"}, {"body", CommitBody("c1", "0.5")}},
      {{"path", "/v1/reservations"}, {"body", reservation}},
      {{"path", "/v1/reservations/" + other + "/release"}, {"body", {{"idempotencyKey", "x"}}}},
  });
  auto batch = Post("token-a", "/v1/batch", {{"requests", requests}});
  ASSERT_EQ(batch.status, 200) << batch.body;
  const json answers = json::parse(batch.body)["answers"];
  ASSERT_EQ(answers.size(), requests.size());
  EXPECT_EQ(answers[0]["status"], 200);
  EXPECT_EQ(answers[0]["body"], json({{"id", id}, {"committed", true}, {"cost", "0.0021"}}));
  EXPECT_EQ(answers[1]["status"], 200);  // recorded late
  EXPECT_EQ(answers[1]["body"]["late"], true);
  EXPECT_EQ(answers[2]["status"], 200);
  EXPECT_EQ(answers[3]["status"], 403);  // another run's reservation
  EXPECT_EQ(answers[4]["status"], 400);  // a reservation without its fields
  EXPECT_NE(answers[4]["body"]["error"]["message"].get<std::string>().find("idempotencyKey"),
            std::string::npos);
  EXPECT_EQ(answers[5]["status"], 409);
  EXPECT_EQ(answers[5]["body"]["error"]["code"], "conflict");
  EXPECT_EQ(answers[6]["status"], 200);
  EXPECT_EQ(answers[6]["body"]["decision"], "allow");
  EXPECT_EQ(answers[7]["status"], 400);  // releases are not batched
  for (size_t i : {0, 1, 2, 3, 6}) {
    auto alone = Post("token-a", requests[i]["path"], requests[i]["body"]);
    EXPECT_EQ(alone.status, answers[i]["status"]) << i;
    EXPECT_EQ(json::parse(alone.body), answers[i]["body"]) << i;
  }
  EXPECT_EQ(json::parse(Get("token-a", "/v1/runs/run-a").body)["spent"], "0.1029");
}

TEST_F(AuthorityApiTest, ABatchHoldsOneTo128Requests) {
  const json one = {{"path", "/v1/events"},
                    {"body", {{"idempotencyKey", "e"}, {"kind", "llm"}, {"cost", "0.1"}}}};
  for (const json& body : {json::object(), json{{"requests", json::array()}},
                           json{{"requests", "x"}}}) {
    auto response = Post("token-a", "/v1/batch", body);
    EXPECT_EQ(response.status, 400) << body;
  }
  json too_many = json::array();
  for (int i = 0; i < 129; ++i) {
    too_many.push_back(one);
  }
  auto response = Post("token-a", "/v1/batch", {{"requests", too_many}});
  EXPECT_EQ(response.status, 400);
  EXPECT_NE(json::parse(response.body)["error"]["message"].get<std::string>().find("1..128"),
            std::string::npos);
}

// The answers a route sent through its writer.
class SentAnswers final : public http::ResponseWriter {
 public:
  void Send(http::Response response) override {
    MutexLock lock(mu_);
    sent_.push_back(std::move(response));
  }
  void Begin(int, http::Headers, std::string, std::function<void(bool)>) override {
    ADD_FAILURE();
  }
  void Write(std::string, std::function<void(bool)>) override { ADD_FAILURE(); }
  void End(std::string) override { ADD_FAILURE(); }
  void Abort() override { ADD_FAILURE(); }

  std::vector<http::Response> sent() {
    MutexLock lock(mu_);
    return sent_;
  }
  // The first answer, waiting for it at most 5 s; a 599 when none came.
  http::Response First() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto answers = sent(); !answers.empty()) {
        return answers.front();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
    }
    return http::Response{599, {}, "no answer"};
  }

 private:
  Mutex mu_;
  std::vector<http::Response> sent_ GUARDED_BY(mu_);
};

// Sends `body` to `path` through `api`'s routes, as the server does.
std::shared_ptr<SentAnswers> Route(AuthorityApi& api, const std::string& path, const json& body) {
  http::Router router;
  api.AddRoutes(router);
  http::Request request;
  request.method = "POST";
  request.path = path;
  request.headers["Authorization"] = "Bearer token-a";
  request.body = body.dump();
  auto answers = std::make_shared<SentAnswers>();
  const http::StreamHandler* handler = router.StreamFor(request);
  EXPECT_NE(handler, nullptr);
  if (handler != nullptr) {
    (*handler)(std::move(request), answers);
  }
  return answers;
}

TEST_F(AuthorityApiTest, RoutedCommitIsAnsweredOnceDurable) {
  const std::string id = Reserve("token-a", "k1");
  auto answers = Route(api_, "/v1/reservations/" + id + "/commit", CommitBody("c1", "0.0021"));
  const http::Response answer = answers->First();
  ASSERT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(json::parse(answer.body), json({{"id", id}, {"committed", true}, {"cost", "0.0021"}}));
  EXPECT_EQ(store_.Load()->size(), 1U);
}

// A store that does not accept the commit in time: the client gets a retryable 503 once,
// and the commit, durable later, is not answered a second time.
TEST_F(AuthorityApiTest, RoutedCommitNotDurableWithinTheTimeoutIsAnswered503Once) {
  AuthorityApi api{ledger_, authenticator_, [] { return OkStatus(); },
                   []() -> Result<ProviderKeys> { return ProviderKeys{}; },
                   std::chrono::milliseconds{50}};
  const std::string id = Reserve("token-a", "k1");
  store_.FailNextAppends(200);  // at least 200 commit intervals of 5 ms
  auto answers = Route(api, "/v1/reservations/" + id + "/commit", CommitBody("c1", "0.0021"));
  const http::Response answer = answers->First();
  EXPECT_EQ(answer.status, 503) << answer.body;
  EXPECT_EQ(answer.headers.at("Retry-After"), "1");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  while (ledger_.pending_commits() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  ASSERT_EQ(store_.Load()->size(), 1U);
  EXPECT_EQ(answers->sent().size(), 1U);
}

TEST_F(AuthorityApiTest, UnknownPathsAre404) {
  EXPECT_EQ(Post("token-a", "/v1/reservations/r-1/refund", json::object()).status, 404);
  EXPECT_EQ(Get("token-a", "/v1/nothing").status, 404);
}

}  // namespace
}  // namespace agentbudget::authority
