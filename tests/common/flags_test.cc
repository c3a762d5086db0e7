#include "common/flags.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace agentbudget::flags {
namespace {

// A program's options, as the binaries bind theirs.
struct Options {
  std::string name = "default";
  bool enabled = true;
  uint16_t port = 8443;
  ListenAddress listen{"0.0.0.0", 8080};
  int64_t workers = 4;
  std::optional<int64_t> limit;
  std::chrono::milliseconds period{200};
  std::chrono::seconds timeout{60};
  core::Money price;
  std::optional<core::Money> ceiling;
  std::vector<std::string> hosts;
  std::string log_level = "info";
};

class FlagSetTest : public ::testing::Test {
 protected:
  FlagSetTest() : set_("Usage: program [--flag=value]...\n") {
    set_.String("name", &options_.name, "a name");
    set_.Bool("enabled", &options_.enabled, "on or off");
    set_.Port("port", &options_.port, PortRule::kNonZero, "a port");
    set_.Listen("listen", &options_.listen, PortRule::kAllowZero, "an address");
    set_.Int("workers", &options_.workers, 1, "threads");
    set_.Int("limit", &options_.limit, 0, "a ceiling");
    set_.Duration("period-ms", &options_.period, "a period");
    set_.Duration("timeout-seconds", &options_.timeout, "a timeout");
    set_.Money("price", &options_.price, "USD");
    set_.Money("ceiling", &options_.ceiling, "USD");
    set_.List("hosts", &options_.hosts, "names");
    set_.LogLevel("log-level", &options_.log_level, "verbosity");
  }

  // The error message of parsing `args`, "" when it succeeds.
  std::string ErrorOf(const std::vector<std::string>& args) {
    auto parsed = set_.Parse(args);
    return parsed.ok() ? "" : parsed.error().message;
  }

  Options options_;
  FlagSet set_;
};

TEST_F(FlagSetTest, NoArgumentsLeaveTheDefaults) {
  auto help = set_.Parse({});
  ASSERT_TRUE(help.ok());
  EXPECT_FALSE(*help);
  EXPECT_EQ(options_.name, "default");
  EXPECT_EQ(options_.listen, (ListenAddress{"0.0.0.0", 8080}));
}

TEST_F(FlagSetTest, AcceptsEqualsAndSeparateValues) {
  ASSERT_EQ(ErrorOf({"--name=x=y", "--port", "9443", "--listen=127.0.0.1:0", "--workers=8",
                     "--limit", "0", "--period-ms=2s", "--timeout-seconds=90",
                     "--price=0.25", "--ceiling", "2.5", "--hosts=a,b", "--log-level=debug"}),
            "");
  EXPECT_EQ(options_.name, "x=y");
  EXPECT_EQ(options_.port, 9443);
  EXPECT_EQ(options_.listen, (ListenAddress{"127.0.0.1", 0}));
  EXPECT_EQ(options_.workers, 8);
  EXPECT_EQ(options_.limit, 0);
  EXPECT_EQ(options_.period, std::chrono::seconds{2});
  EXPECT_EQ(options_.timeout, std::chrono::seconds{90});
  EXPECT_EQ(options_.price, core::Money::FromMicros(250'000));
  EXPECT_EQ(options_.ceiling, core::Money::FromMicros(2'500'000));
  EXPECT_EQ(options_.hosts, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(options_.log_level, "debug");
}

TEST_F(FlagSetTest, ALaterFlagWins) {
  ASSERT_EQ(ErrorOf({"--workers=2", "--workers=3"}), "");
  EXPECT_EQ(options_.workers, 3);
}

TEST_F(FlagSetTest, BooleansTakeTrueOrFalseOrStandAlone) {
  ASSERT_EQ(ErrorOf({"--enabled=false"}), "");
  EXPECT_FALSE(options_.enabled);
  ASSERT_EQ(ErrorOf({"--enabled", "--name=n"}), "");
  EXPECT_TRUE(options_.enabled);
  EXPECT_EQ(options_.name, "n");
  EXPECT_EQ(ErrorOf({"--enabled=yes"}), "--enabled: \"yes\" is neither true nor false");
}

TEST_F(FlagSetTest, ErrorsNameTheFlagAndTheRule) {
  EXPECT_EQ(ErrorOf({"--listen=0.0.0.0:80x"}),
            "--listen: port \"80x\" is not a number in 0..65535");
  EXPECT_EQ(ErrorOf({"--port=0"}), "--port: port \"0\" is not a number in 1..65535");
  EXPECT_EQ(ErrorOf({"--workers=0"}), "--workers: \"0\" is not a positive integer");
  EXPECT_EQ(ErrorOf({"--limit=-1"}), "--limit: \"-1\" is not a non-negative integer");
  EXPECT_NE(ErrorOf({"--period-ms=soon"}).find("--period-ms: \"soon\" is not a positive"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"--price=1e3"}).find("--price: invalid amount"), std::string::npos);
  EXPECT_NE(ErrorOf({"--ceiling=-2"}).find("--ceiling: \"-2\" is negative"), std::string::npos);
  EXPECT_NE(ErrorOf({"--log-level=loud"}).find("--log-level: \"loud\" is not a log level"),
            std::string::npos);
}

TEST_F(FlagSetTest, RejectsUnknownFlagsStrayArgumentsAndMissingValues) {
  EXPECT_EQ(ErrorOf({"--nmae=x"}), "unknown flag --nmae (see --help)");
  EXPECT_EQ(ErrorOf({"stray"}), "unexpected argument \"stray\" (see --help)");
  EXPECT_EQ(ErrorOf({"-name=x"}), "unexpected argument \"-name=x\" (see --help)");
  EXPECT_EQ(ErrorOf({"--"}), "unexpected argument \"--\" (see --help)");
  EXPECT_EQ(ErrorOf({"--name"}), "--name needs a value");
}

TEST_F(FlagSetTest, HelpWinsOverTheRestOfTheLine) {
  auto help = set_.Parse({"--workers=2", "--help", "--bogus"});
  ASSERT_TRUE(help.ok());
  EXPECT_TRUE(*help);
  auto short_help = set_.Parse({"-h"});
  ASSERT_TRUE(short_help.ok());
  EXPECT_TRUE(*short_help);
}

TEST_F(FlagSetTest, HelpShowsEveryFlagWithItsDefault) {
  const std::string help = set_.Help();
  EXPECT_EQ(help.rfind("Usage: program", 0), 0u);
  for (const char* text :
       {"  --name\n      a name (default: \"default\")", "--enabled\n      on or off (default: true)",
        "--listen\n      an address (default: 0.0.0.0:8080)", "--limit\n      a ceiling (default: none)",
        "--period-ms\n      a period (default: 200ms)", "(default: 60s)", "--price\n      USD (default: 0)",
        "--hosts\n      names (default: none)", "--help"}) {
    EXPECT_NE(help.find(text), std::string::npos) << text << "\n" << help;
  }
}

TEST_F(FlagSetTest, HelpCarriesAnnotations) {
  const std::string help =
      set_.Help([](const std::string& name) { return name == "port" ? "[port] $PORT" : ""; });
  EXPECT_NE(help.find("  --port [port] $PORT\n"), std::string::npos);
  EXPECT_NE(help.find("  --name\n"), std::string::npos);
}

TEST_F(FlagSetTest, SetReadsOneFlagFromAnotherSource) {
  ASSERT_TRUE(set_.Set("workers", "16").ok());
  EXPECT_EQ(options_.workers, 16);
  auto unknown = set_.Set("nope", "1");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(FlagSetTest, SplitKeepsTheOrderWithoutSetting) {
  auto split = set_.Split({"--workers", "2", "--enabled", "--name=x"});
  ASSERT_TRUE(split.ok());
  ASSERT_EQ(split->size(), 3u);
  EXPECT_EQ((*split)[0].name, "workers");
  EXPECT_EQ((*split)[0].value, "2");
  EXPECT_EQ((*split)[1].value, "true");
  EXPECT_EQ(options_.workers, 4);
  EXPECT_EQ(set_.Names().front(), "name");
}

}  // namespace
}  // namespace agentbudget::flags
