#include "operator/certs/x509.h"

#include <gtest/gtest.h>

namespace agentbudget::certs {
namespace {

using std::chrono::hours;

const TimePoint kNow = std::chrono::system_clock::from_time_t(1798761600);  // 2027-01-01

class X509Test : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = GenerateCa("test-ca", kNow, hours(24 * 365));
    ASSERT_TRUE(ca.ok()) << ca.error().ToString();
    ca_ = *ca;
  }
  CertificateAndKey ca_;
};

TEST_F(X509Test, GeneratedCaIsASelfSignedCaWithTheRequestedValidity) {
  auto info = Inspect(ca_.cert_pem);
  ASSERT_TRUE(info.ok()) << info.error().ToString();
  EXPECT_EQ(info->subject, "test-ca");
  EXPECT_EQ(info->issuer, "test-ca");
  EXPECT_TRUE(info->is_ca);
  EXPECT_EQ(info->not_before, kNow);
  EXPECT_EQ(info->not_after, kNow + hours(24 * 365));
  EXPECT_EQ(*IsSignedBy(ca_.cert_pem, ca_.cert_pem), true);
  EXPECT_EQ(*KeyMatches(ca_.cert_pem, ca_.key_pem), true);
  EXPECT_NE(ca_.key_pem.find("PRIVATE KEY"), std::string::npos);
}

TEST_F(X509Test, ServingCertificateIsSignedByTheCaAndNamesEveryHost) {
  auto serving = IssueServing(ca_, {"agentbudget-webhook.ns.svc", "127.0.0.1", "::1"}, kNow,
                              hours(24 * 90));
  ASSERT_TRUE(serving.ok()) << serving.error().ToString();
  auto info = Inspect(serving->cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->subject, "agentbudget-webhook.ns.svc");
  EXPECT_EQ(info->issuer, "test-ca");
  EXPECT_FALSE(info->is_ca);
  EXPECT_EQ(info->not_after, kNow + hours(24 * 90));
  EXPECT_EQ(info->hosts,
            (std::vector<std::string>{"agentbudget-webhook.ns.svc", "127.0.0.1", "::1"}));
  EXPECT_EQ(*IsSignedBy(serving->cert_pem, ca_.cert_pem), true);
  EXPECT_EQ(*KeyMatches(serving->cert_pem, serving->key_pem), true);
  EXPECT_EQ(*KeyMatches(serving->cert_pem, ca_.key_pem), false);
}

TEST_F(X509Test, CertificateOfAnotherCaWithTheSameNameIsNotSignedByThisOne) {
  auto other = GenerateCa("test-ca", kNow, hours(24));
  ASSERT_TRUE(other.ok());
  auto serving = IssueServing(*other, {"host"}, kNow, hours(1));
  ASSERT_TRUE(serving.ok());
  EXPECT_EQ(*IsSignedBy(serving->cert_pem, ca_.cert_pem), false);
  EXPECT_EQ(*IsSignedBy(serving->cert_pem, other->cert_pem), true);
}

TEST_F(X509Test, ServingCertificateNeedsAHostAndAParsableCa) {
  EXPECT_EQ(IssueServing(ca_, {}, kNow, hours(1)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(IssueServing({"garbage", "garbage"}, {"host"}, kNow, hours(1)).error().code,
            ErrorCode::kInvalidArgument);
}

TEST_F(X509Test, BadPemIsAnInvalidArgumentNotACrash) {
  EXPECT_EQ(Inspect("").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(Inspect("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .error()
                .code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(IsSignedBy("x", ca_.cert_pem).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(KeyMatches(ca_.cert_pem, "x").error().code, ErrorCode::kInvalidArgument);
}

TEST_F(X509Test, BundlesSplitIntoCanonicalBlocksInOrder) {
  auto second = GenerateCa("second", kNow, hours(24));
  ASSERT_TRUE(second.ok());
  auto certs = SplitCertificates("comment\n" + ca_.cert_pem + "\n\n" + second->cert_pem);
  ASSERT_TRUE(certs.ok()) << certs.error().ToString();
  EXPECT_EQ(*certs, (std::vector<std::string>{ca_.cert_pem, second->cert_pem}));
  auto keys = SplitPrivateKeys(ca_.key_pem + second->key_pem);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(*keys, (std::vector<std::string>{ca_.key_pem, second->key_pem}));
  EXPECT_TRUE(SplitCertificates("")->empty());
}

TEST_F(X509Test, BundleWithACorruptBlockFailsNamingTheBlock) {
  auto certs = SplitCertificates(ca_.cert_pem +
                                 "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  ASSERT_FALSE(certs.ok());
  EXPECT_EQ(certs.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(certs.error().message.find("block 2"), std::string::npos);
}

}  // namespace
}  // namespace agentbudget::certs
