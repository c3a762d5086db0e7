#include "common/tls_reloader.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/common/test_tls.h"

namespace agentbudget::tls {
namespace {

class CertificateReloaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto files = testing::WriteSelfSignedCertificate(dir_.path(), "serving", "first");
    ASSERT_TRUE(files.ok());
    files_ = *files;
  }
  testing::TempDir dir_;
  testing::CertificateFiles files_;
};

TEST_F(CertificateReloaderTest, LoadsTheSubjectOfTheCertificate) {
  auto reloader = CertificateReloader::Load(files_.cert_file, files_.key_file);
  ASSERT_TRUE(reloader.ok());
  EXPECT_EQ((*reloader)->subject(), "/CN=first");
}

TEST_F(CertificateReloaderTest, RejectsAKeyThatDoesNotMatchTheCertificate) {
  auto other = testing::WriteSelfSignedCertificate(dir_.path(), "other", "other");
  ASSERT_TRUE(other.ok());
  auto reloader = CertificateReloader::Load(files_.cert_file, other->key_file);
  ASSERT_FALSE(reloader.ok());
  EXPECT_NE(reloader.error().message.find("does not match"), std::string::npos);
}

TEST_F(CertificateReloaderTest, RejectsAFileThatIsNotPem) {
  std::ofstream(dir_.path() + "/junk.crt") << "not a certificate";
  auto reloader = CertificateReloader::Load(dir_.path() + "/junk.crt", files_.key_file);
  ASSERT_FALSE(reloader.ok());
  EXPECT_EQ(reloader.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(CertificateReloaderTest, KeepsThePreviousPairWhenTheNewOneIsInvalid) {
  auto reloader = CertificateReloader::Load(files_.cert_file, files_.key_file);
  ASSERT_TRUE(reloader.ok());
  // A rotation caught half-way: a new certificate, the old key.
  auto other = testing::WriteSelfSignedCertificate(dir_.path(), "other", "second");
  ASSERT_TRUE(other.ok());
  std::ofstream(files_.cert_file, std::ios::trunc) << other->cert_pem;
  EXPECT_FALSE((*reloader)->ReloadIfChanged().ok());
  EXPECT_EQ((*reloader)->subject(), "/CN=first");
  EXPECT_EQ((*reloader)->reload_failures(), 1u);
}

TEST_F(CertificateReloaderTest, PicksUpAValidRotation) {
  auto reloader = CertificateReloader::Load(files_.cert_file, files_.key_file);
  ASSERT_TRUE(reloader.ok());
  ASSERT_TRUE(testing::WriteSelfSignedCertificate(dir_.path(), "serving", "second").ok());
  EXPECT_TRUE((*reloader)->ReloadIfChanged().ok());
  EXPECT_EQ((*reloader)->subject(), "/CN=second");
  EXPECT_EQ((*reloader)->reloads(), 1u);
}

TEST_F(CertificateReloaderTest, ConfiguredContextRefusesProtocolsBelowTls12) {
  auto reloader = CertificateReloader::Load(files_.cert_file, files_.key_file);
  ASSERT_TRUE(reloader.ok());
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  ASSERT_TRUE((*reloader)->ConfigureContext(ctx).ok());
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
  SSL_CTX_free(ctx);
}

}  // namespace
}  // namespace agentbudget::tls
