#include "webhook/authority_ca_file.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "tests/common/test_tls.h"

namespace agentbudget::webhook {
namespace {

constexpr char kFirst[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
constexpr char kSecond[] = "-----BEGIN CERTIFICATE-----\nBBBBBBBB\n-----END CERTIFICATE-----\n";

class AuthorityCaFileTest : public ::testing::Test {
 protected:
  void Write(const std::string& text) {
    // A new file renamed over the old one, as a mounted Secret changes: a new inode.
    const std::string next = path_ + ".next";
    std::ofstream(next) << text;
    std::rename(next.c_str(), path_.c_str());
  }
  testing::TempDir dir_;
  const std::string path_ = dir_.path() + "/ca.crt";
};

TEST_F(AuthorityCaFileTest, ReadsThePemAtLoad) {
  Write(kFirst);
  auto file = AuthorityCaFile::Load(path_);
  ASSERT_TRUE(file.ok()) << file.error().ToString();
  EXPECT_EQ((*file)->Pem(), kFirst);
}

TEST_F(AuthorityCaFileTest, ARotatedFileIsReadAgain) {
  Write(kFirst);
  auto file = AuthorityCaFile::Load(path_);
  ASSERT_TRUE(file.ok());
  Write(kSecond);
  EXPECT_EQ((*file)->Pem(), kSecond);
}

TEST_F(AuthorityCaFileTest, ABadRotationKeepsThePreviousPem) {
  Write(kFirst);
  auto file = AuthorityCaFile::Load(path_);
  ASSERT_TRUE(file.ok());
  Write("not a certificate");
  EXPECT_EQ((*file)->Pem(), kFirst);
  std::remove(path_.c_str());
  EXPECT_EQ((*file)->Pem(), kFirst);
}

TEST_F(AuthorityCaFileTest, AMissingOrNonPemFileIsRefusedAtLoad) {
  EXPECT_FALSE(AuthorityCaFile::Load(path_).ok());
  Write("hello");
  auto file = AuthorityCaFile::Load(path_);
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.error().message.find("holds no PEM certificate"), std::string::npos);
  Write(std::string(AuthorityCaFile::kMaxBytes + 1, 'x'));
  EXPECT_FALSE(AuthorityCaFile::Load(path_).ok());
}

}  // namespace
}  // namespace agentbudget::webhook
