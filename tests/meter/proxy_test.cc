// GoogleTest before cpprestsdk: cpprestsdk defines a macro U that breaks gtest's templates.
#include <gtest/gtest.h>

#include <cpprest/producerconsumerstream.h>

#include <future>

#include <nlohmann/json.hpp>

#include "meter/authority_keys.h"
#include "tests/authority/fake_clock.h"
#include "tests/meter/fake_authority.h"
#include "tests/meter/proxy_fixture.h"
#include "tests/meter/scripted_server.h"

namespace agentbudget::meter {
namespace {

namespace http = web::http;
using nlohmann::json;
using testing::Eventually;
using testing::ProxyTest;
using testing::ScriptedServer;

constexpr const char* kMessage =
    R"({"id":"m","type":"message","model":"claude-haiku-4-5","content":[],
        "usage":{"input_tokens":10,"output_tokens":20}})";

TEST_F(ProxyTest, MalformedRequestsGetAProviderShapedErrorAndNeverReachUpstream) {
  ScriptedServer upstream([](http::http_request r, const std::string&) { r.reply(500).wait(); });
  StartMeter(upstream.url());
  // A model named twice: providers' parsers differ on which one counts.
  for (const char* body : {"{not json", "[]", R"({"model": 7})", "",
                           R"({"model":"claude-haiku-4-5","model":"claude-opus-4-1"})"}) {
    http::http_response response = Post("/anthropic/v1/messages", body);
    EXPECT_EQ(response.status_code(), 400) << body;
    const json error = json::parse(response.extract_utf8string().get());
    EXPECT_EQ(error["type"], "error");
    EXPECT_NE(error["error"]["message"].get<std::string>().find("string \"model\""),
              std::string::npos);
    EXPECT_EQ(response.headers()["x-should-retry"], "false");
  }
  EXPECT_TRUE(upstream.seen().empty());
}

TEST_F(ProxyTest, OversizedAndCompressedBodiesAreRefusedClearly) {
  ScriptedServer upstream([](http::http_request r, const std::string&) { r.reply(500).wait(); });
  StartMeter(upstream.url(), [](Config& c) { c.max_request_bytes = 64; });
  http::http_response big = Post("/openai/v1/chat/completions", std::string(65, ' '));
  EXPECT_EQ(big.status_code(), 413);
  EXPECT_NE(json::parse(big.extract_utf8string().get())["error"]["message"]
                .get<std::string>()
                .find("exceeds the limit of 64"),
            std::string::npos);
  http::http_response gzip = Post("/openai/v1/responses", "{}", "gzip");
  EXPECT_EQ(gzip.status_code(), 415);
  EXPECT_TRUE(upstream.seen().empty());
}

TEST_F(ProxyTest, AnAnswerOverTheLimitIsRefusedAndChargedAsEstimated) {
  ScriptedServer upstream([](http::http_request r, const std::string&) {
    r.reply(200, kMessage, "application/json").wait();
  });
  StartMeter(upstream.url(), [](Config& c) { c.max_answer_bytes = 16; });
  http::http_response response = Post(
      "/anthropic/v1/messages", R"({"model":"claude-haiku-4-5","max_tokens":10,"messages":[]})");
  EXPECT_EQ(response.status_code(), 502);
  EXPECT_EQ(response.headers()["x-should-retry"], "false");
  EXPECT_NE(json::parse(response.extract_utf8string().get())["error"]["message"]
                .get<std::string>()
                .find("exceeds the limit of 16 bytes (--max-answer-bytes)"),
            std::string::npos);
  // The provider served it: charged, as estimated, like a cut answer.
  ASSERT_TRUE(Eventually([&] { return enforcer_->totals().reserved == core::Money(); }));
  EXPECT_GT(enforcer_->totals().spent, core::Money());
  EXPECT_EQ(enforcer_->totals().requests, 1);
}

// With an authority the meter settles calls on a pool of threads of its own; each start
// names them, and each stop joins them (a hang here fails the test by its timeout).
TEST_F(ProxyTest, AMeterWithAnAuthorityStopsPromptlyAfterEachStart) {
  ScriptedServer upstream([](http::http_request r, const std::string&) { r.reply(500).wait(); });
  for (int i = 0; i < 20; ++i) {
    StartMeter(upstream.url(), [](Config& c) { c.authority_url = "https://127.0.0.1:1"; });
    EXPECT_EQ(Post("/openai/v1/embeddings", "{}").status_code(), 404) << "start " << i;
    proxy_->Stop();
  }
}

TEST_F(ProxyTest, UnknownPathsGetNotFound) {
  ScriptedServer upstream([](http::http_request r, const std::string&) { r.reply(500).wait(); });
  StartMeter(upstream.url());
  EXPECT_EQ(Post("/openai/v1/embeddings", "{}").status_code(), 404);
  EXPECT_EQ(Post("/elsewhere", "{}").status_code(), 404);
}

TEST_F(ProxyTest, NonStreamingCallIsForwardedAndCharged) {
  ScriptedServer upstream([](http::http_request r, const std::string&) {
    r.reply(200, kMessage, "application/json").wait();
  });
  StartMeter(upstream.url());
  http::http_response response = Post(
      "/anthropic/v1/messages?beta=true",
      R"({"model":"claude-haiku-4-5","max_tokens":10,"messages":[]})");
  EXPECT_EQ(response.status_code(), 200);
  EXPECT_EQ(json::parse(response.extract_utf8string().get())["usage"]["output_tokens"], 20);
  EXPECT_EQ(upstream.seen().at(0).first, "/v1/messages?beta=true");
  // Haiku 4.5: 10 × $1 + 20 × $5 per million tokens.
  ASSERT_TRUE(Eventually([&] { return enforcer_->totals().tokens == 30; }));
  EXPECT_EQ(enforcer_->totals().spent, core::Money::FromMicros(110));
}

// The meter reads only the members it decides on; the rest of an agent's body reaches the
// provider as the agent wrote it, while a body broken deep inside its conversation is still
// refused.
TEST_F(ProxyTest, AnAgentsBodyIsForwardedByteForByteAndCheckedWhole) {
  ScriptedServer upstream([](http::http_request r, const std::string&) {
    r.reply(200, kMessage, "application/json").wait();
  });
  StartMeter(upstream.url());
  std::string conversation;
  while (conversation.size() < 200'000) {
    conversation += R"(  if (x) {\n    return \"caf\u00e9\";\t}\n)";
  }
  const std::string body = R"( { "messages" : [ {"role":"user","model":"not this one",)"
                           R"("content":")" + conversation + R"("} ] ,)"
                           R"( "model" : "claude-haiku-4-5", "max_tokens" : 10 } )";
  http::http_response response = Post("/anthropic/v1/messages", body);
  EXPECT_EQ(response.status_code(), 200);
  ASSERT_EQ(upstream.seen().size(), 1u);
  EXPECT_TRUE(upstream.seen().at(0).second == body) << "the body was changed on its way";
  const std::string broken = R"({"model":"claude-haiku-4-5","messages":[{"content":")" +
                             conversation + R"(\x"}]})";
  EXPECT_EQ(Post("/anthropic/v1/messages", broken).status_code(), 400);
  EXPECT_EQ(upstream.seen().size(), 1u);
}

// The retry-loop guard tells bodies apart by all their bytes, the conversation included.
TEST_F(ProxyTest, TheRetryLoopGuardCountsByteIdenticalBodiesOnly) {
  ScriptedServer upstream([](http::http_request r, const std::string&) {
    r.reply(200, kMessage, "application/json").wait();
  });
  StartMeter(upstream.url(), [](Config& config) { config.envelope.max_identical_requests = 2; });
  const auto body = [](const std::string& said) {
    return R"({"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user",)"
           R"("content":")" + said + R"("}]})";
  };
  EXPECT_EQ(Post("/anthropic/v1/messages", body("retry me")).status_code(), 200);
  EXPECT_EQ(Post("/anthropic/v1/messages", body("retry me")).status_code(), 200);
  http::http_response third = Post("/anthropic/v1/messages", body("retry me"));
  EXPECT_EQ(third.status_code(), 400);
  EXPECT_NE(third.extract_utf8string().get().find("maxIdenticalRequests"), std::string::npos);
  EXPECT_EQ(Post("/anthropic/v1/messages", body("retry me!")).status_code(), 200);
  EXPECT_EQ(upstream.seen().size(), 3u);
}

TEST_F(ProxyTest, UpstreamErrorsAreReturnedUnmodifiedAndNotCharged) {
  const std::string body = R"({"type":"error","error":{"type":"overloaded_error","message":"busy"}})";
  ScriptedServer upstream([&](http::http_request r, const std::string&) {
    r.reply(529, body, "application/json").wait();
  });
  StartMeter(upstream.url());
  http::http_response response =
      Post("/anthropic/v1/messages", R"({"model":"claude-haiku-4-5","max_tokens":10})");
  EXPECT_EQ(response.status_code(), 529);
  EXPECT_EQ(response.extract_utf8string().get(), body);
  ASSERT_TRUE(Eventually([&] { return enforcer_->totals().reserved == core::Money(); }));
  EXPECT_EQ(enforcer_->totals().spent, core::Money());
  EXPECT_EQ(enforcer_->totals().requests, 1);
}

TEST_F(ProxyTest, AnUnreachableUpstreamGivesBadGateway) {
  StartMeter("http://127.0.0.1:" + std::to_string(testing::FreePort()));
  http::http_response response =
      Post("/openai/v1/chat/completions", R"({"model":"gpt-5","messages":[]})");
  EXPECT_EQ(response.status_code(), 502);
  EXPECT_NE(json::parse(response.extract_utf8string().get())["error"]["message"]
                .get<std::string>()
                .find("upstream unreachable"),
            std::string::npos);
}

TEST_F(ProxyTest, StreamsEachEventBeforeTheUpstreamStreamEnds) {
  std::promise<void> client_saw_first;
  auto saw_first = client_saw_first.get_future().share();
  ScriptedServer upstream([saw_first](http::http_request r, const std::string&) {
    concurrency::streams::producer_consumer_buffer<uint8_t> body;
    http::http_response response(200);
    response.set_body(concurrency::streams::istream(body));
    response.headers().set_content_type("text/event-stream");
    auto replied = r.reply(response);
    const std::string first =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":"
        "\"claude-haiku-4-5\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n";
    body.putn_nocopy(reinterpret_cast<const uint8_t*>(first.data()), first.size()).wait();
    body.sync().wait();
    // The rest is only sent once the client has the first event through the meter.
    saw_first.wait_for(std::chrono::seconds(10));
    const std::string rest =
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":"
        "8}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    body.putn_nocopy(reinterpret_cast<const uint8_t*>(rest.data()), rest.size()).wait();
    body.close(std::ios_base::out).wait();
    replied.wait();
  });
  StartMeter(upstream.url());
  http::http_response response = Post(
      "/anthropic/v1/messages", R"({"model":"claude-haiku-4-5","max_tokens":10,"stream":true})");
  ASSERT_EQ(response.status_code(), 200);
  auto in = response.body().streambuf();
  std::string received;
  std::vector<uint8_t> buffer(4096);
  bool released = false;
  while (true) {
    const size_t n = in.getn(buffer.data(), std::max<size_t>(1, in.in_avail())).get();
    if (n == 0) {
      break;
    }
    received.append(reinterpret_cast<const char*>(buffer.data()), n);
    if (!released && received.find("\n\n") != std::string::npos) {
      EXPECT_EQ(received.find("message_delta"), std::string::npos);
      client_saw_first.set_value();
      released = true;
    }
  }
  EXPECT_TRUE(released);
  EXPECT_NE(received.find("message_stop"), std::string::npos);
  // 5 × $1 + 8 × $5 per million tokens.
  ASSERT_TRUE(Eventually([&] { return enforcer_->totals().tokens == 13; }));
  EXPECT_EQ(enforcer_->totals().spent, core::Money::FromMicros(45));
}

TEST_F(ProxyTest, CallsForModelsOutsideTheAllowlistAreDeniedBeforeUpstream) {
  ScriptedServer upstream([](http::http_request r, const std::string&) {
    r.reply(200, kMessage, "application/json").wait();
  });
  StartMeter(upstream.url(), [](Config& c) {
    c.models_allowed = {"claude-sonnet-4-5"};
    c.models_fallback = {"claude-haiku-4-5"};
  });
  http::http_response denied =
      Post("/anthropic/v1/messages", R"({"model":"claude-opus-4-1","max_tokens":10})");
  EXPECT_EQ(denied.status_code(), 400);
  EXPECT_EQ(denied.headers()["x-should-retry"], "false");
  EXPECT_EQ(json::parse(denied.extract_utf8string().get())["error"]["message"],
            "agentbudget: call denied: model \"claude-opus-4-1\" is not allowed for this "
            "workload (models: claude-sonnet-4-5, claude-haiku-4-5)");
  EXPECT_TRUE(upstream.seen().empty());
  EXPECT_EQ(Post("/anthropic/v1/messages", R"({"model":"claude-haiku-4-5","max_tokens":10})")
                .status_code(),
            200);
  EXPECT_EQ(upstream.seen().size(), 1u);
}

TEST_F(ProxyTest, TheHealthListenerServesProbesAndMetricsOnly) {
  ScriptedServer upstream([](http::http_request r, const std::string&) { r.reply(500).wait(); });
  const int health_port = testing::FreePort();
  StartMeter(upstream.url(), [&](Config& c) {
    c.health_listen_host = "127.0.0.1";
    c.health_listen_port = health_port;
  });
  EXPECT_EQ(Post("/anthropic/v1/messages", "{not json").status_code(), 400);
  http::client::http_client health("http://127.0.0.1:" + std::to_string(health_port));
  EXPECT_EQ(health.request(http::methods::GET, "/healthz").get().status_code(), 200);
  EXPECT_EQ(health.request(http::methods::GET, "/readyz").get().status_code(), 200);
  http::http_response metrics = health.request(http::methods::GET, "/metrics").get();
  EXPECT_EQ(metrics.status_code(), 200);
  EXPECT_NE(metrics.extract_utf8string().get().find(
                "agentbudget_meter_rejected_requests_total{provider=\"anthropic\",reason="
                "\"malformed\"} 1"),
            std::string::npos);
  EXPECT_EQ(health.request(http::methods::GET, "/v1/run").get().status_code(), 404);
  EXPECT_EQ(health.request(http::methods::POST, "/anthropic/v1/messages").get().status_code(),
            404);
  EXPECT_TRUE(upstream.seen().empty());
}

// Key source Authority: the key comes from the authority, never from the agent; a key the
// provider refuses (401) is fetched again, at most once a minute.
TEST_F(ProxyTest, KeysFromTheAuthorityReplaceTheAgentsAndARefusedKeyIsFetchedAgain) {
  ScriptedServer upstream([](http::http_request r, const std::string&) {
    if (r.headers()["x-api-key"] == "sk-ant-2") {
      r.reply(200, kMessage, "application/json").wait();
    } else {
      r.reply(401, R"({"type":"error","error":{"type":"authentication_error"}})",
              "application/json")
          .wait();
    }
  });
  testing::FakeAuthority authority;
  authority::FakeClock clock{std::chrono::system_clock::time_point{std::chrono::hours{1}}};
  {
    MutexLock lock(authority.mu);
    authority.credentials = {"sk-ant-1", ""};
  }
  auto keys = std::make_unique<AuthorityKeys>(authority, clock, AuthorityKeys::Options{});
  ASSERT_TRUE(keys->Fetch().ok());
  keys_ = std::move(keys);
  StartMeter(upstream.url());
  auto call = [&] {
    http::http_request request(http::methods::POST);
    request.set_request_uri("/anthropic/v1/messages");
    request.headers().add("x-api-key", "sk-agent-placeholder");
    request.set_body(R"({"model":"claude-haiku-4-5","max_tokens":10})", "application/json");
    return client_->request(request).get().status_code();
  };
  EXPECT_EQ(call(), 401);
  {
    MutexLock lock(authority.mu);
    authority.credentials = {"sk-ant-2", ""};
  }
  EXPECT_EQ(call(), 401);  // within the minute: the refused key is still the one held
  clock.Advance(std::chrono::seconds{60});
  EXPECT_EQ(call(), 401);  // refused again: this time the keys are fetched anew
  // Only "sk-ant-2" is answered: the agent's placeholder was not sent alongside it.
  EXPECT_EQ(call(), 200);
  MutexLock lock(authority.mu);
  EXPECT_EQ(authority.credential_fetches, 2);
}

// Model names are the agent's to choose; metric labels carry only the rate card's ids.
TEST_F(ProxyTest, MetricsNameModelsByTheRateCardsIdsAndEveryOtherNameAsOther) {
  ScriptedServer upstream([](http::http_request r, const std::string&) {
    r.reply(200, kMessage, "application/json").wait();
  });
  StartMeter(upstream.url());
  for (int i = 0; i < 50; ++i) {
    const std::string model = "invented-model-" + std::to_string(i);
    ASSERT_EQ(Post("/anthropic/v1/messages", R"({"model":")" + model + R"(","max_tokens":10})")
                  .status_code(),
              200);
  }
  ASSERT_EQ(Post("/anthropic/v1/messages",
                 R"({"model":"claude-haiku-4-5-20251001","max_tokens":10})")
                .status_code(),
            200);
  // A call is recorded just after its answer went out: wait for the last one's series.
  ASSERT_TRUE(Eventually([&] {
    return records_->Exposition().find("model=\"claude-haiku-4-5\"") != std::string::npos;
  }));
  const std::string metrics = records_->Exposition();
  EXPECT_EQ(metrics.find("invented-model"), std::string::npos);
  EXPECT_NE(
      metrics.find("agentbudget_meter_calls_total{api=\"anthropic.messages\",model=\"other\""),
      std::string::npos)
      << metrics;
  EXPECT_EQ(metrics.find("claude-haiku-4-5-20251001"), std::string::npos);
}

}  // namespace
}  // namespace agentbudget::meter
