#include "meter/authority_keys.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/authority/fake_clock.h"
#include "tests/meter/fake_authority.h"

namespace agentbudget::meter {
namespace {

using std::chrono::seconds;
using testing::FakeAuthority;

class AuthorityKeysTest : public ::testing::Test {
 protected:
  void Serve(std::string anthropic, std::string openai) {
    MutexLock lock(authority_.mu);
    authority_.credentials = {std::move(anthropic), std::move(openai)};
    authority_.credentials_error.reset();
  }
  int Fetches() {
    MutexLock lock(authority_.mu);
    return authority_.credential_fetches;
  }

  FakeAuthority authority_;
  authority::FakeClock clock_{std::chrono::system_clock::time_point{seconds{1'795'780'800}}};
  AuthorityKeys keys_{authority_, clock_, AuthorityKeys::Options{}};
};

TEST_F(AuthorityKeysTest, KeysFetchedAtStartAreSentForEachProvider) {
  Serve("sk-ant-1", "sk-oa-1");
  ASSERT_TRUE(keys_.Fetch().ok());
  EXPECT_TRUE(keys_.Holds(core::Api::kOpenAIChat));
  EXPECT_EQ(keys_.Key(core::Api::kAnthropicMessages), "sk-ant-1");
  EXPECT_EQ(keys_.Key(core::Api::kOpenAIResponses), "sk-oa-1");
  EXPECT_EQ(Fetches(), 1);
}

TEST_F(AuthorityKeysTest, ARefusedKeyIsFetchedAgainAtMostOnceAMinute) {
  Serve("sk-ant-1", "");
  ASSERT_TRUE(keys_.Fetch().ok());
  Serve("sk-ant-2", "");
  keys_.Rejected(core::Api::kAnthropicMessages);
  EXPECT_EQ(keys_.Key(core::Api::kAnthropicMessages), "sk-ant-1");
  clock_.Advance(seconds{59});
  keys_.Rejected(core::Api::kAnthropicMessages);
  EXPECT_EQ(Fetches(), 1);
  clock_.Advance(seconds{1});
  keys_.Rejected(core::Api::kAnthropicMessages);
  EXPECT_EQ(keys_.Key(core::Api::kAnthropicMessages), "sk-ant-2");
  EXPECT_EQ(Fetches(), 2);
}

TEST_F(AuthorityKeysTest, AFailedStartIsRetriedByACallThatFindsNoKeyOnceTheIntervalPassed) {
  authority_.Fail(&FakeAuthority::credentials_error, Unavailable("not the leader"));
  EXPECT_EQ(keys_.Fetch().error().code, ErrorCode::kUnavailable);
  Serve("sk-ant-1", "");
  EXPECT_EQ(keys_.Key(core::Api::kAnthropicMessages), "");
  clock_.Advance(seconds{60});
  EXPECT_EQ(keys_.Key(core::Api::kAnthropicMessages), "sk-ant-1");
  EXPECT_EQ(Fetches(), 2);
}

TEST_F(AuthorityKeysTest, AFailedFetchKeepsTheKeysHeld) {
  Serve("sk-ant-1", "sk-oa-1");
  ASSERT_TRUE(keys_.Fetch().ok());
  authority_.Fail(&FakeAuthority::credentials_error, Unavailable("down"));
  clock_.Advance(seconds{60});
  keys_.Rejected(core::Api::kOpenAIChat);
  EXPECT_EQ(Fetches(), 2);
  EXPECT_EQ(keys_.Key(core::Api::kOpenAIChat), "sk-oa-1");
}

TEST(FileKeysTest, KeysAreReadFromTheFilesAndOnlyProvidersWithAFileAreHeld) {
  const std::string path = ::testing::TempDir() + "/anthropic-api-key";
  std::ofstream(path) << "sk-ant-file\n";
  FileKeys keys(path, "");
  EXPECT_TRUE(keys.Holds(core::Api::kAnthropicMessages));
  EXPECT_FALSE(keys.Holds(core::Api::kOpenAIChat));
  EXPECT_EQ(keys.Key(core::Api::kAnthropicMessages), "sk-ant-file");
}

}  // namespace
}  // namespace agentbudget::meter
