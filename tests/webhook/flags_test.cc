#include "webhook/flags.h"

#include <gtest/gtest.h>

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
  EXPECT_GT(flags->fanout_grace_ms, flags->fanout_deadline_ms);
}

}  // namespace
}  // namespace agentbudget::webhook
