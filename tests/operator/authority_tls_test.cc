#include "operator/authority_tls.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

namespace agentbudget::op {
namespace {

std::string Read(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

TEST(AuthorityTlsTest, AnEmptyDirectoryFlagGivesAFreshPrivateDirectory) {
  auto first = PrepareTlsDir("");
  auto second = PrepareTlsDir("");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_NE(*first, *second);
  struct stat info {};
  ASSERT_EQ(::stat(first->c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700U);
}

TEST(AuthorityTlsTest, TheKeyPairIsWrittenPrivatelyAndRewrittenOnlyWhenItChanges) {
  auto dir = PrepareTlsDir(::testing::TempDir() + "/authority-tls-test");
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  ASSERT_TRUE(InstallKeyPair(*dir, {"CERT-1", "KEY-1"}).ok());
  EXPECT_EQ(Read(CertFile(*dir)), "CERT-1");
  EXPECT_EQ(Read(KeyFile(*dir)), "KEY-1");
  struct stat key {};
  ASSERT_EQ(::stat(KeyFile(*dir).c_str(), &key), 0);
  EXPECT_EQ(key.st_mode & 0777, 0600U);
  struct stat before {};
  ::stat(CertFile(*dir).c_str(), &before);
  ASSERT_TRUE(InstallKeyPair(*dir, {"CERT-1", "KEY-1"}).ok());
  struct stat after {};
  ::stat(CertFile(*dir).c_str(), &after);
  EXPECT_EQ(before.st_ino, after.st_ino);
  ASSERT_TRUE(InstallKeyPair(*dir, {"CERT-2", "KEY-2"}).ok());
  EXPECT_EQ(Read(CertFile(*dir)), "CERT-2");
}

TEST(AuthorityTlsTest, AnUncreatableDirectoryNamesTheFlag) {
  auto dir = PrepareTlsDir("/proc/agentbudget/tls");
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.error().message.find("--authority-tls-dir /proc/agentbudget/tls"),
            std::string::npos);
}

}  // namespace
}  // namespace agentbudget::op
