#include "meter/config.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace agentbudget::meter {
namespace {

TEST(ConfigTest, DefaultsListenOnTheSidecarPortWithFailureModeOpen) {
  auto config = ParseConfig({});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->listen_host, "127.0.0.1");
  EXPECT_EQ(config->listen_port, 8787);
  EXPECT_EQ(config->failure_mode, FailureMode::kOpen);
  EXPECT_FALSE(config->envelope.max_cost.has_value());
  EXPECT_TRUE(config->reserve_ahead);
  auto off = ParseConfig({"--reserve-ahead=false"});
  ASSERT_TRUE(off.ok()) << off.error().message;
  EXPECT_FALSE(off->reserve_ahead);
}

TEST(ConfigTest, ParsesFlagsInBothForms) {
  auto config = ParseConfig({"--listen=0.0.0.0:9000", "--max-cost", "2.50", "--max-requests",
                             "40", "--failure-mode", "Closed", "--run", "uid-1"});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->listen_host, "0.0.0.0");
  EXPECT_EQ(config->listen_port, 9000);
  EXPECT_EQ(config->envelope.max_cost, core::Money::FromMicros(2'500'000));
  EXPECT_EQ(config->envelope.max_requests, 40);
  EXPECT_EQ(config->failure_mode, FailureMode::kClosed);
  EXPECT_EQ(config->run, "uid-1");
}

TEST(ConfigTest, FlagsOverrideTheConfigFile) {
  const std::string path = ::testing::TempDir() + "/meter-config.yaml";
  {
    std::ofstream file(path);
    file << "run: from-file\nauthority:\n  url: https://authority:8443\n  failureMode: Closed\n"
            "envelope:\n  maxTokens: 1000\n  maxCost: \"1\"\n";
  }
  auto config = ParseConfig({"--config", path, "--max-tokens", "5"});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->run, "from-file");
  EXPECT_EQ(config->authority_url, "https://authority:8443");
  EXPECT_EQ(config->failure_mode, FailureMode::kClosed);
  EXPECT_EQ(config->envelope.max_tokens, 5);
  EXPECT_EQ(config->envelope.max_cost, core::Money::FromMicros(1'000'000));
  std::remove(path.c_str());
}

TEST(ConfigTest, RejectsBadInputNamingTheFlag) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--bogus", "1"}, "unknown flag --bogus"},
      {{"--max-cost", "1e3"}, "max-cost: invalid amount"},
      {{"--max-requests", "-1"}, "max-requests"},
      {{"--failure-mode", "open"}, "neither Open nor Closed"},
      {{"--listen", "8787"}, "not HOST:PORT"},
      {{"--run"}, "needs a value"},
      {{"stray"}, "unexpected argument"},
      {{"--config", "/nonexistent/meter.yaml"}, "config /nonexistent/meter.yaml"},
      {{"--key-source", "vault"}, "neither secret nor authority"},
      {{"--key-source", "authority"}, "needs --authority-url"},
      {{"--key-source", "authority", "--authority-url", "https://a:8443",
        "--anthropic-key-file", "/creds/k"},
       "takes no --anthropic-key-file"},
  };
  for (const auto& [args, expected] : cases) {
    auto config = ParseConfig(args);
    ASSERT_FALSE(config.ok()) << expected;
    EXPECT_NE(config.error().message.find(expected), std::string::npos)
        << config.error().message;
  }
}

// The variables the admission webhook injects into the meter container (docs/webhook.md).
TEST(ConfigTest, ReadsEveryVariableTheWebhookInjects) {
  const std::map<std::string, std::string> env = {
      {"AGENTBUDGET_NAMESPACE", "team-a"},
      {"AGENTBUDGET_POD_NAME", "agent-7x2"},
      {"AGENTBUDGET_WORKLOAD", "refactor"},
      {"AGENTBUDGET_RUN", "uid-1"},
      {"AGENTBUDGET_PARENT_RUN", "uid-0"},
      {"AGENTBUDGET_LISTEN", "127.0.0.1:9787"},
      {"AGENTBUDGET_HEALTH_LISTEN", "0.0.0.0:8788"},
      {"AGENTBUDGET_AUTHORITY_URL", "https://authority:8443"},
      {"AGENTBUDGET_AUTHORITY_TOKEN_FILE", "/var/run/agentbudget/token/token"},
      {"AGENTBUDGET_FAILURE_MODE", "Closed"},
      {"AGENTBUDGET_SPOOL_DIR", "/var/run/agentbudget/spool2"},
      {"AGENTBUDGET_MAX_COST", "2.5"},
      {"AGENTBUDGET_MAX_TOKENS", "1000"},
      {"AGENTBUDGET_MAX_REQUESTS", "40"},
      {"AGENTBUDGET_MAX_IDENTICAL_REQUESTS", "3"},
      {"AGENTBUDGET_REQUEST_MAX_TOKENS", "16000"},
      {"AGENTBUDGET_REQUEST_MAX_COST", "0.5"},
      {"AGENTBUDGET_REQUEST_ON_EXCEED", "Clamp"},
      {"AGENTBUDGET_ANTHROPIC_UPSTREAM", "http://anthropic.stub"},
      {"AGENTBUDGET_OPENAI_UPSTREAM", "http://openai.stub"},
      {"AGENTBUDGET_MODELS_ALLOWED", "claude-sonnet-4-5, gpt-5"},
      {"AGENTBUDGET_MODELS_FALLBACK", "claude-haiku-4-5"},
      {"AGENTBUDGET_ANTHROPIC_KEY_FILE", "/creds/anthropic-api-key"},
      {"AGENTBUDGET_OPENAI_KEY_FILE", "/creds/openai-api-key"},
  };
  auto config = ParseConfig({}, env);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->namespace_name, "team-a");
  EXPECT_EQ(config->pod_name, "agent-7x2");
  EXPECT_EQ(config->workload, "refactor");
  EXPECT_EQ(config->run, "uid-1");
  EXPECT_EQ(config->parent_run, "uid-0");
  EXPECT_EQ(config->listen_port, 9787);
  EXPECT_EQ(config->health_listen_host, "0.0.0.0");
  EXPECT_EQ(config->health_listen_port, 8788);
  EXPECT_EQ(config->authority_url, "https://authority:8443");
  EXPECT_EQ(config->authority_token_file, "/var/run/agentbudget/token/token");
  EXPECT_EQ(config->failure_mode, FailureMode::kClosed);
  EXPECT_EQ(config->spool_dir, "/var/run/agentbudget/spool2");
  EXPECT_EQ(config->envelope.max_cost, core::Money::FromMicros(2'500'000));
  EXPECT_EQ(config->envelope.max_tokens, 1000);
  EXPECT_EQ(config->envelope.max_requests, 40);
  EXPECT_EQ(config->envelope.max_identical_requests, 3);
  EXPECT_EQ(config->request.max_tokens, 16000);
  EXPECT_EQ(config->request.max_cost, core::Money::FromMicros(500'000));
  EXPECT_EQ(config->request.on_exceed, core::OnExceed::kClamp);
  EXPECT_EQ(config->anthropic_upstream, "http://anthropic.stub");
  EXPECT_EQ(config->openai_upstream, "http://openai.stub");
  EXPECT_EQ(config->models_allowed, (std::vector<std::string>{"claude-sonnet-4-5", "gpt-5"}));
  EXPECT_EQ(config->models_fallback, std::vector<std::string>{"claude-haiku-4-5"});
  EXPECT_EQ(config->anthropic_key_file, "/creds/anthropic-api-key");
  EXPECT_EQ(config->openai_key_file, "/creds/openai-api-key");
}

TEST(ConfigTest, FlagsOverrideTheEnvironmentWhichOverridesTheConfigFile) {
  const std::string path = ::testing::TempDir() + "/meter-env-config.yaml";
  {
    std::ofstream file(path);
    file << "run: from-file\nworkload: from-file\nenvelope:\n  maxRequests: 7\n"
            "models:\n  allowed: [gpt-5, gpt-5-mini]\n";
  }
  auto config = ParseConfig({"--config", path, "--max-requests", "9"},
                            {{"AGENTBUDGET_RUN", "from-env"},
                             {"AGENTBUDGET_MAX_REQUESTS", "8"},
                             {"AGENTBUDGET_WORKLOAD", ""},
                             {"AGENTBUDGET_SOMETHING_NEWER", "ignored"}});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->run, "from-env");
  EXPECT_EQ(config->workload, "from-file");  // an empty variable is unset
  EXPECT_EQ(config->envelope.max_requests, 9);
  EXPECT_EQ(config->models_allowed, (std::vector<std::string>{"gpt-5", "gpt-5-mini"}));
  std::remove(path.c_str());
}

TEST(ConfigTest, RejectsABadVariableNamingIt) {
  for (const auto& [name, value] : std::map<std::string, std::string>{
           {"AGENTBUDGET_MAX_COST", "lots"},
           {"AGENTBUDGET_HEALTH_LISTEN", "8788"},
           {"AGENTBUDGET_FAILURE_MODE", "open"}}) {
    auto config = ParseConfig({}, {{name, value}});
    ASSERT_FALSE(config.ok()) << name;
    EXPECT_EQ(config.error().message.rfind("environment " + name + ": ", 0), 0)
        << config.error().message;
  }
}

TEST(ConfigTest, StrictValuesNameTheFlagAndTheRule) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--listen=127.0.0.1:80x"}, "--listen: port \"80x\" is not a number in 1..65535"},
      {{"--listen=127.0.0.1:0"}, "--listen: port \"0\" is not a number in 1..65535"},
      {{"--health-listen=:8788"}, "--health-listen: \":8788\" is not HOST:PORT"},
      {{"--authority-timeout-ms=0"}, "--authority-timeout-ms: \"0\" is not a positive duration"},
      {{"--upstream-timeout-seconds=10x"}, "--upstream-timeout-seconds: \"10x\""},
      {{"--client-timeout-seconds=500ms"}, "not a whole number of seconds"},
      {{"--max-cost=-1"}, "--max-cost: \"-1\" is negative"},
      {{"--max-cost=1.0000001"}, "--max-cost: invalid amount"},
      {{"--max-tokens=1e6"}, "--max-tokens: \"1e6\" is not a non-negative integer"},
      {{"--max-request-bytes=0"}, "--max-request-bytes: \"0\" is not a positive integer"},
      {{"--log-level=verbose"}, "--log-level: \"verbose\" is not a log level"},
  };
  for (const auto& [args, expected] : cases) {
    auto config = ParseConfig(args);
    ASSERT_FALSE(config.ok()) << expected;
    EXPECT_EQ(config.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(config.error().message.find(expected), std::string::npos)
        << config.error().message;
  }
}

TEST(ConfigTest, DurationsTakeTheFlagsUnitOrTheirOwn) {
  auto config = ParseConfig({"--authority-timeout-ms=1500", "--upstream-timeout-seconds=10m",
                             "--client-timeout-seconds", "30", "--shutdown-flush-seconds=25"});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->authority_timeout, std::chrono::milliseconds{1500});
  EXPECT_EQ(config->upstream_timeout, std::chrono::minutes{10});
  EXPECT_EQ(config->client_timeout, std::chrono::seconds{30});
  EXPECT_EQ(config->shutdown_flush, std::chrono::seconds{25});
}

TEST(ConfigTest, AZeroCeilingIsAllowed) {
  auto config = ParseConfig({"--max-requests", "0", "--max-cost=0"});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->envelope.max_requests, 0);
  EXPECT_EQ(config->envelope.max_cost, core::Money{});
}

TEST(ConfigTest, ABadFileValueNamesTheFileAndKey) {
  const std::string path = ::testing::TempDir() + "/meter-bad-config.yaml";
  {
    std::ofstream file(path);
    file << "authority:\n  timeoutMs: soon\n";
  }
  auto config = ParseConfig({"--config", path});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message.rfind("config " + path + ": authority.timeoutMs: ", 0), 0)
      << config.error().message;
  std::remove(path.c_str());
}

TEST(ConfigTest, HelpNamesEveryFlagAndItsConfigKey) {
  const std::string help = HelpText();
  for (const char* text : {"--authority-url [authority.url]", "--max-identical-requests",
                           "--anthropic-key-file [credentials.anthropicKeyFile]",
                           "--spool-dir", "--failure-mode",
                           "--health-listen [healthListen] $AGENTBUDGET_HEALTH_LISTEN",
                           "--models-allowed [models.allowed] $AGENTBUDGET_MODELS_ALLOWED",
                           "(default: 127.0.0.1:8787)", "(default: 600s)", "--config FILE"}) {
    EXPECT_NE(help.find(text), std::string::npos) << text;
  }
}

// Key source Authority as the webhook injects it: the keys and the authority's CA come
// from the environment, no key file is mounted.
TEST(ConfigTest, KeySourceAuthorityAndTheAuthorityCaComeFromTheEnvironment) {
  const std::string pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  auto config = ParseConfig({}, {{"AGENTBUDGET_AUTHORITY_URL", "https://authority:8443"},
                                 {"AGENTBUDGET_AUTHORITY_CA", pem},
                                 {"AGENTBUDGET_KEY_SOURCE", "authority"}});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->key_source, KeySource::kAuthority);
  EXPECT_EQ(config->authority_ca, pem);
  EXPECT_EQ(ParseConfig({})->key_source, KeySource::kSecret);
}

}  // namespace
}  // namespace agentbudget::meter
