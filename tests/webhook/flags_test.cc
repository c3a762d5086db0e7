#include "webhook/flags.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace agentbudget::webhook {
namespace {

TEST(FlagsTest, AcceptsBothFlagForms) {
  auto flags = ParseFlags({"--port=9443", "--authority-url", "https://a:8443", "--tls-cert-file",
                           "c.pem", "--tls-key-file=k.pem"});
  ASSERT_TRUE(flags.ok()) << flags.error().ToString();
  EXPECT_EQ(flags->port, 9443);
  EXPECT_EQ(flags->meter.authority_url, "https://a:8443");
  EXPECT_EQ(flags->tls_key_file, "k.pem");
}

TEST(FlagsTest, UnknownFlagIsNamed) {
  auto flags = ParseFlags({"--prot=1"});
  ASSERT_FALSE(flags.ok());
  EXPECT_NE(flags.error().message.find("--prot"), std::string::npos);
}

TEST(FlagsTest, MalformedNumberIsNamed) {
  auto flags = ParseFlags({"--port", "eighty"});
  ASSERT_FALSE(flags.ok());
  EXPECT_NE(flags.error().message.find("--port"), std::string::npos);
}

TEST(FlagsTest, CertificateWithoutKeyIsRefused) {
  EXPECT_FALSE(ParseFlags({"--tls-cert-file=c.pem"}).ok());
}

TEST(FlagsTest, HelpListsEveryFlag) {
  auto flags = ParseFlags({"--help"});
  ASSERT_TRUE(flags.ok());
  EXPECT_TRUE(flags->help);
  EXPECT_NE(FlagsHelp().find("--meter-image"), std::string::npos);
}

TEST(FlagsTest, FanoutGraceNotLongerThanTheClaimBudgetIsRefused) {
  auto flags = ParseFlags({"--fanout-deadline-ms=2000", "--fanout-grace-ms=2000"});
  ASSERT_FALSE(flags.ok());
  EXPECT_NE(flags.error().message.find("--fanout-grace-ms"), std::string::npos);
}

TEST(FlagsTest, DefaultsLeaveWorkersForABurstOfFanoutClaims) {
  auto flags = ParseFlags({});
  ASSERT_TRUE(flags.ok());
  EXPECT_GE(flags->worker_threads, 32u);
  EXPECT_GT(flags->fanout_grace, flags->fanout_deadline);
}

// The command lines of the Helm chart, scripts/demo and the e2e tests.
TEST(FlagsTest, ReadsTheCommandLinesInUse) {
  auto flags = ParseFlags({"--listen-address=127.0.0.1", "--port=8443",
                           "--tls-cert-file=/tls/tls.crt", "--tls-key-file=/tls/tls.key",
                           "--kubeconfig=/tmp/kc", "--worker-threads=64", "--log-level=warn",
                           "--authority-url=https://127.0.0.1:8443",
                           "--meter-image=agentbudget/meter:e2e",
                           "--meter-image-pull-policy=Always", "--meter-cpu-request=50m",
                           "--meter-memory-request=32Mi", "--meter-cpu-limit=500m",
                           "--meter-memory-limit=128Mi", "--fanout-deadline-ms=1500",
                           "--fanout-grace-ms=4s", "--sync-timeout-seconds=30",
                           "--kube-qps=100", "--kube-burst=200", "--max-body-bytes=1024"});
  ASSERT_TRUE(flags.ok()) << flags.error().ToString();
  EXPECT_EQ(flags->listen_address, "127.0.0.1");
  EXPECT_EQ(flags->worker_threads, 64u);
  EXPECT_EQ(flags->log_level, "warn");
  EXPECT_EQ(flags->meter.image, "agentbudget/meter:e2e");
  EXPECT_EQ(flags->meter.image_pull_policy, "Always");
  EXPECT_EQ(flags->meter.memory_limit, "128Mi");
  EXPECT_EQ(flags->fanout_deadline, std::chrono::milliseconds{1500});
  EXPECT_EQ(flags->fanout_grace, std::chrono::seconds{4});
  EXPECT_EQ(flags->sync_timeout, std::chrono::seconds{30});
  EXPECT_EQ(flags->kube_qps, 100);
  EXPECT_EQ(flags->kube_burst, 200);
  EXPECT_EQ(flags->max_body_bytes, 1024u);
}

TEST(FlagsTest, PortZeroMeansAnyFreePort) {
  auto flags = ParseFlags({"--port=0"});
  ASSERT_TRUE(flags.ok());
  EXPECT_EQ(flags->port, 0);
}

TEST(FlagsTest, BadValuesNameTheFlagAndTheRule) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--port=80x"}, "--port: port \"80x\" is not a number in 0..65535"},
      {{"--port=65536"}, "--port: port \"65536\" is not a number in 0..65535"},
      {{"--worker-threads=0"}, "--worker-threads: \"0\" is not a positive integer"},
      {{"--max-body-bytes=-1"}, "--max-body-bytes: \"-1\" is not a positive integer"},
      {{"--kube-qps=2.5"}, "--kube-qps: \"2.5\" is not a positive integer"},
      {{"--fanout-deadline-ms=soon"}, "--fanout-deadline-ms: \"soon\" is not a positive duration"},
      {{"--sync-timeout-seconds=1500ms"}, "not a whole number of seconds"},
      {{"--log-level=loud"}, "--log-level: \"loud\" is not a log level"},
      {{"--port"}, "--port needs a value"},
      {{"8443"}, "unexpected argument \"8443\""},
  };
  for (const auto& [args, expected] : cases) {
    auto flags = ParseFlags(args);
    ASSERT_FALSE(flags.ok()) << expected;
    EXPECT_EQ(flags.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(flags.error().message.find(expected), std::string::npos) << flags.error().message;
  }
}

TEST(FlagsTest, HelpShowsDefaults) {
  const std::string help = FlagsHelp();
  EXPECT_NE(help.find("  --port\n      HTTPS port (0: any free port) (default: 8443)"),
            std::string::npos)
      << help;
  EXPECT_NE(help.find("(default: 2000ms)"), std::string::npos);
  EXPECT_NE(help.find("(default: \"IfNotPresent\")"), std::string::npos);
}

TEST(FlagsTest, DefaultsTrustTheChartsOperatorAndTheJobControllerOnly) {
  auto flags = ParseFlags({});
  ASSERT_TRUE(flags.ok());
  const AccessPolicy& access = flags->access;
  EXPECT_TRUE(access.operator_users.Includes(
      "system:serviceaccount:agentbudget-system:agentbudget-operator", {}));
  EXPECT_TRUE(access.job_controller_users.Includes(
      "system:serviceaccount:kube-system:job-controller", {}));
  EXPECT_TRUE(access.job_controller_users.Includes("system:kube-controller-manager", {}));
  EXPECT_TRUE(access.trusted_creators.empty());
  EXPECT_EQ(access.allowed_features.ToString(), "");
  EXPECT_TRUE(flags->authority_ca_file.empty());
}

TEST(FlagsTest, ReadsTheIdentitiesFeaturesAndAuthorityCa) {
  auto flags = ParseFlags({"--operator-users=agentbudget-admin",
                           "--job-controller-users=agentbudget-admin",
                           "--trusted-creators=agentbudget-ci,group:ci-runners",
                           "--allow-pod-features=hostNetwork,privileged",
                           "--authority-ca-file=/ca/ca.crt"});
  ASSERT_TRUE(flags.ok()) << flags.error().ToString();
  const AccessPolicy& access = flags->access;
  EXPECT_TRUE(access.operator_users.Includes("agentbudget-admin", {}));
  EXPECT_FALSE(access.operator_users.Includes(
      "system:serviceaccount:agentbudget-system:agentbudget-operator", {}));
  EXPECT_TRUE(access.trusted_creators.Includes("someone", {"ci-runners"}));
  EXPECT_TRUE(access.allowed_features.host_network);
  EXPECT_TRUE(access.allowed_features.privileged);
  EXPECT_FALSE(access.allowed_features.host_pid);
  EXPECT_EQ(flags->authority_ca_file, "/ca/ca.crt");
}

TEST(FlagsTest, BadIdentitiesAndFeaturesNameTheFlag) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--operator-users="}, "--operator-users: must name at least one user"},
      {{"--job-controller-users=a,,b"}, "--job-controller-users: empty item"},
      {{"--trusted-creators=group:"}, "--trusted-creators: \"group:\" needs a group name"},
      {{"--trusted-creators=ci bot"}, "--trusted-creators: \"ci bot\" contains whitespace"},
      {{"--allow-pod-features=hostIPC"}, "--allow-pod-features: unknown pod feature \"hostIPC\""},
  };
  for (const auto& [args, expected] : cases) {
    auto flags = ParseFlags(args);
    ASSERT_FALSE(flags.ok()) << expected;
    EXPECT_NE(flags.error().message.find(expected), std::string::npos) << flags.error().message;
  }
  // Trusting nobody is the default, and allowed.
  EXPECT_TRUE(ParseFlags({"--trusted-creators="}).ok());
}

TEST(FlagsTest, HelpNamesTheNewFlagsAndTheirDefaults) {
  const std::string help = FlagsHelp();
  for (const char* flag : {"--operator-users", "--job-controller-users", "--trusted-creators",
                           "--allow-pod-features", "--authority-ca-file"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
  EXPECT_NE(help.find("system:serviceaccount:agentbudget-system:agentbudget-operator"),
            std::string::npos);
}

TEST(FlagsTest, HelpWinsOverBadFlags) {
  auto flags = ParseFlags({"--port=x", "--help"});
  ASSERT_TRUE(flags.ok());
  EXPECT_TRUE(flags->help);
}

}  // namespace
}  // namespace agentbudget::webhook
