#include "meter/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace agentbudget::meter {
namespace {

TEST(ConfigTest, DefaultsListenOnTheSidecarPortWithFailureModeOpen) {
  auto config = ParseConfig({});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->listen_host, "127.0.0.1");
  EXPECT_EQ(config->listen_port, 8787);
  EXPECT_EQ(config->failure_mode, FailureMode::kOpen);
  EXPECT_FALSE(config->envelope.max_cost.has_value());
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
  };
  for (const auto& [args, expected] : cases) {
    auto config = ParseConfig(args);
    ASSERT_FALSE(config.ok()) << expected;
    EXPECT_NE(config.error().message.find(expected), std::string::npos)
        << config.error().message;
  }
}

TEST(ConfigTest, HelpNamesEveryFlagAndItsConfigKey) {
  const std::string help = HelpText();
  for (const char* text : {"--authority-url [authority.url]", "--max-identical-requests",
                           "--anthropic-key-file [credentials.anthropicKeyFile]",
                           "--spool-dir", "--failure-mode"}) {
    EXPECT_NE(help.find(text), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace agentbudget::meter
