#include "operator/options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/time_format.h"

namespace agentbudget::op {
namespace {

// ParseOptions over a command line given without the program name.
Result<Options> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "agentbudget-operator");
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  return ParseOptions(static_cast<int>(args.size()), argv.data());
}

std::string ErrorOf(std::vector<std::string> args) {
  auto options = Parse(std::move(args));
  return options.ok() ? "" : options.error().message;
}

TEST(OptionsTest, DefaultsServeTheAuthorityAndOpsPorts) {
  auto options = Parse({});
  ASSERT_TRUE(options.ok()) << options.error().message;
  EXPECT_FALSE(options->focus_export);
  EXPECT_EQ(options->namespace_name, "agentbudget-system");
  EXPECT_EQ(options->listen, (flags::ListenAddress{"0.0.0.0", 8443}));
  EXPECT_EQ(options->ops_listen, (flags::ListenAddress{"0.0.0.0", 8080}));
  EXPECT_EQ(options->group_commit, std::chrono::milliseconds{200});
  EXPECT_EQ(options->status_period, std::chrono::milliseconds{5000});
  EXPECT_EQ(options->workers, 4);
  EXPECT_EQ(options->log_level, "info");
  EXPECT_TRUE(options->leader_elect);
  EXPECT_FALSE(options->webhook_certs);
  EXPECT_EQ(options->webhook_service, "agentbudget-webhook");
  EXPECT_TRUE(options->webhook_cert_hosts.empty());
  EXPECT_EQ(options->cpu_price_per_core_hour, core::Money{});
  EXPECT_EQ(options->queue_qps, 200);
  EXPECT_FALSE(options->authority_plaintext);
  EXPECT_EQ(options->authority_service, "agentbudget-operator");
  EXPECT_TRUE(options->authority_cert_hosts.empty());
  EXPECT_EQ(options->authority_tls_dir, "");
  EXPECT_EQ(options->rates_override, "");
}

TEST(OptionsTest, ReadsTheAuthorityTlsFlags) {
  auto options = Parse({"--authority-service=ab-operator", "--authority-cert-hosts=127.0.0.1,ab",
                        "--authority-tls-dir=/run/tls", "--rates-override=/rates/override.yaml"});
  ASSERT_TRUE(options.ok()) << options.error().message;
  EXPECT_EQ(options->authority_service, "ab-operator");
  EXPECT_EQ(options->authority_cert_hosts, (std::vector<std::string>{"127.0.0.1", "ab"}));
  EXPECT_EQ(options->authority_tls_dir, "/run/tls");
  EXPECT_EQ(options->rates_override, "/rates/override.yaml");
  EXPECT_TRUE(Parse({"--authority-plaintext"})->authority_plaintext);
}

// The command lines of the Helm chart, scripts/demo, the e2e tests and the queue benchmark.
TEST(OptionsTest, ReadsTheCommandLinesInUse) {
  auto options = Parse({"--kubeconfig=/tmp/kc", "--namespace=ab", "--leader-elect=true",
                        "--listen=0.0.0.0:8443", "--ops-listen=127.0.0.1:0",
                        "--group-commit-ms=100", "--status-ms=500", "--log-level=debug",
                        "--ledger-ceiling-bytes=2097152",
                        "--webhook-certs=true", "--webhook-service=ab-webhook",
                        "--webhook-cert-hosts=127.0.0.1,localhost", "--tls-cert=/tls/tls.crt",
                        "--tls-key=/tls/tls.key", "--identity=queue-e2e", "--queue-qps=1000",
                        "--cpu-price-per-core-hour=0.04", "--memory-price-per-gib-hour=0.005",
                        "--workers=64"});
  ASSERT_TRUE(options.ok()) << options.error().message;
  EXPECT_EQ(options->kubeconfig, "/tmp/kc");
  EXPECT_EQ(options->namespace_name, "ab");
  EXPECT_EQ(options->ops_listen, (flags::ListenAddress{"127.0.0.1", 0}));
  EXPECT_EQ(options->group_commit, std::chrono::milliseconds{100});
  EXPECT_EQ(options->ledger_ceiling_bytes, 2097152);
  EXPECT_EQ(options->status_period, std::chrono::milliseconds{500});
  EXPECT_EQ(options->log_level, "debug");
  EXPECT_TRUE(options->webhook_certs);
  EXPECT_EQ(options->webhook_service, "ab-webhook");
  EXPECT_EQ(options->webhook_cert_hosts, (std::vector<std::string>{"127.0.0.1", "localhost"}));
  EXPECT_EQ(options->tls_cert, "/tls/tls.crt");
  EXPECT_EQ(options->tls_key, "/tls/tls.key");
  EXPECT_EQ(options->identity, "queue-e2e");
  EXPECT_EQ(options->queue_qps, 1000);
  EXPECT_EQ(options->cpu_price_per_core_hour.micros(), 40'000);
  EXPECT_EQ(options->memory_price_per_gib_hour.micros(), 5'000);
  EXPECT_EQ(options->workers, 64);
}

TEST(OptionsTest, LeaderElectionCanBeTurnedOff) {
  auto options = Parse({"--leader-elect=false"});
  ASSERT_TRUE(options.ok());
  EXPECT_FALSE(options->leader_elect);
}

TEST(OptionsTest, FocusExportTakesItsRange) {
  auto options = Parse({"focus-export", "--from=2026-11-01", "--to=2026-12-01",
                        "--namespace=ab"});
  ASSERT_TRUE(options.ok()) << options.error().message;
  EXPECT_TRUE(options->focus_export);
  EXPECT_EQ(options->focus_from, *core::ParseRfc3339("2026-11-01"));
  EXPECT_EQ(options->focus_to, *core::ParseRfc3339("2026-12-01"));
  EXPECT_EQ(options->namespace_name, "ab");
}

TEST(OptionsTest, FocusExportDefaultsToEverything) {
  auto options = Parse({"focus-export"});
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->focus_from, core::SysSeconds{});
  EXPECT_EQ(options->focus_to, core::SysSeconds::max());
}

TEST(OptionsTest, LedgerIsOnTheKubernetesApiByDefault) {
  auto options = Parse({});
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->ledger_store, "kube");
  EXPECT_TRUE(options->postgres_dsn_file.empty());
  EXPECT_EQ(options->postgres_timeout, std::chrono::milliseconds{5000});
  EXPECT_FALSE(options->migrate_ledger);
}

TEST(OptionsTest, PostgresLedgerTakesItsConnectionFile) {
  auto options = Parse({"--ledger-store=postgres", "--postgres-dsn-file=/etc/pg/dsn",
                        "--postgres-timeout-ms=2000"});
  ASSERT_TRUE(options.ok()) << options.error().message;
  EXPECT_EQ(options->ledger_store, "postgres");
  EXPECT_EQ(options->postgres_dsn_file, "/etc/pg/dsn");
  EXPECT_EQ(options->postgres_timeout, std::chrono::milliseconds{2000});
}

TEST(OptionsTest, MigrateLedgerNeedsTheConnectionFile) {
  auto options = Parse({"migrate-ledger", "--postgres-dsn-file=/etc/pg/dsn"});
  ASSERT_TRUE(options.ok()) << options.error().message;
  EXPECT_TRUE(options->migrate_ledger);
  EXPECT_EQ(ErrorOf({"migrate-ledger"}), "migrate-ledger needs --postgres-dsn-file");
}

TEST(OptionsTest, LedgerStoreFlagsThatDoNotFitAreRefused) {
  EXPECT_EQ(ErrorOf({"--ledger-store=mysql"}),
            "--ledger-store: \"mysql\" is neither kube nor postgres");
  EXPECT_EQ(ErrorOf({"--ledger-store=postgres"}),
            "--ledger-store=postgres needs --postgres-dsn-file");
  EXPECT_EQ(ErrorOf({"--postgres-dsn-file=/etc/pg/dsn"}),
            "--postgres-dsn-file is for --ledger-store=postgres");
}

TEST(OptionsTest, BadValuesNameTheFlagAndTheRule) {
  EXPECT_EQ(ErrorOf({"--listen=0.0.0.0:80x"}),
            "--listen: port \"80x\" is not a number in 0..65535");
  EXPECT_EQ(ErrorOf({"--ops-listen=8080"}), "--ops-listen: \"8080\" is not HOST:PORT");
  EXPECT_EQ(ErrorOf({"--workers=0"}), "--workers: \"0\" is not a positive integer");
  EXPECT_EQ(ErrorOf({"--queue-qps=fast"}), "--queue-qps: \"fast\" is not a positive integer");
  EXPECT_EQ(ErrorOf({"--leader-elect=yes"}), "--leader-elect: \"yes\" is neither true nor false");
  EXPECT_NE(ErrorOf({"--group-commit-ms=0"}).find("--group-commit-ms: \"0\" is not a positive"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"--status-ms=5x"}).find("--status-ms:"), std::string::npos);
  EXPECT_NE(ErrorOf({"--cpu-price-per-core-hour=-1"}).find("--cpu-price-per-core-hour:"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"--memory-price-per-gib-hour=1e3"}).find("invalid amount"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"--log-level=chatty"}).find("--log-level:"), std::string::npos);
  EXPECT_NE(ErrorOf({"focus-export", "--from=yesterday"}).find("--from: \"yesterday\""),
            std::string::npos);
}

TEST(OptionsTest, RejectsUnknownFlagsAndMismatchedPairs) {
  EXPECT_EQ(ErrorOf({"--lisen=0.0.0.0:1"}), "unknown flag --lisen (see --help)");
  EXPECT_EQ(ErrorOf({"serve"}), "unexpected argument \"serve\" (see --help)");
  EXPECT_EQ(ErrorOf({"--from=2026-11-01"}), "unknown flag --from (see --help)");
  EXPECT_EQ(ErrorOf({"--tls-cert=/c.pem"}), "--tls-cert and --tls-key go together");
  EXPECT_EQ(ErrorOf({"--authority-plaintext", "--tls-cert=/c.pem", "--tls-key=/k.pem"}),
            "--authority-plaintext and --tls-cert exclude each other");
  EXPECT_EQ(ErrorOf({"focus-export", "--from=2026-12-01", "--to=2026-11-01"}),
            "--to must be after --from");
}

TEST(OptionsTest, HelpIsAnOptionNotAnError) {
  auto help = Parse({"--workers=oops", "--bogus", "--help"});
  ASSERT_TRUE(help.ok());
  EXPECT_TRUE(help->help);
  auto focus_help = Parse({"focus-export", "-h"});
  ASSERT_TRUE(focus_help.ok());
  EXPECT_TRUE(focus_help->help);
}

TEST(OptionsTest, HelpExplainsEveryFlagWithItsDefault) {
  const std::string help = OptionsHelp();
  for (const char* flag :
       {"kubeconfig", "namespace", "listen", "tls-cert", "tls-key", "ops-listen",
        "group-commit-ms", "status-ms", "workers", "log-level", "from", "to", "leader-elect",
        "identity", "webhook-certs", "webhook-service", "webhook-cert-hosts",
        "cpu-price-per-core-hour", "memory-price-per-gib-hour", "queue-qps",
        "authority-plaintext", "authority-service", "authority-cert-hosts", "authority-tls-dir",
        "rates-override", "ledger-ceiling-bytes"}) {
    EXPECT_NE(help.find("  --" + std::string(flag) + "\n"), std::string::npos) << flag;
  }
  EXPECT_NE(help.find("focus-export"), std::string::npos);
  EXPECT_NE(help.find("(default: 0.0.0.0:8443)"), std::string::npos);
  EXPECT_NE(help.find("(default: 4)"), std::string::npos);
  EXPECT_NE(help.find("(default: 200ms)"), std::string::npos);
  EXPECT_NE(help.find("RISK: meters' tokens"), std::string::npos);
}

}  // namespace
}  // namespace agentbudget::op
