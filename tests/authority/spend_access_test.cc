#include "operator/authority/spend_access.h"

#include <gtest/gtest.h>

#include "tests/authority/fake_api_server.h"
#include "tests/authority/fake_clock.h"

namespace agentbudget::authority {
namespace {

using std::chrono::seconds;

class SpendAccessTest : public ::testing::Test {
 protected:
  SpendAccessTest() {
    api_->AddToken("finance-token", "system:serviceaccount:agentbudget-system:finance");
    api_->AddToken("alice-token", "alice");
    api_->Grant("system:serviceaccount:agentbudget-system:finance", "");
    api_->Grant("alice", "team-a");
  }

  SpendReader Reader(const std::string& token) {
    auto reader = access_.Authenticate(token);
    EXPECT_TRUE(reader.ok()) << reader.error().ToString();
    return reader.ok() ? *reader : SpendReader{};
  }

  std::shared_ptr<testing::FakeApiServer> api_ = std::make_shared<testing::FakeApiServer>();
  kube::Client client_{api_, "", ""};
  FakeClock clock_{std::chrono::system_clock::time_point{seconds{1'795'780'800}}};
  SpendAccess access_{client_, clock_, SpendAccess::Options{seconds{10}, 16, 32}};
};

TEST_F(SpendAccessTest, ATokenIsReviewedWithTheApiServersOwnAudiences) {
  const SpendReader reader = Reader("alice-token");
  EXPECT_EQ(reader.username, "alice");
  EXPECT_EQ(reader.groups, std::vector<std::string>{"system:authenticated"});
  EXPECT_FALSE(api_->last_token_review()["spec"].contains("audiences"));
}

TEST_F(SpendAccessTest, MissingOrRejectedTokensAreUnauthenticated) {
  EXPECT_EQ(access_.Authenticate("").error().code, ErrorCode::kUnauthenticated);
  auto rejected = access_.Authenticate("forged");
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(rejected.error().message.find("invalid bearer token"), std::string::npos);
}

TEST_F(SpendAccessTest, RbacDecidesPerNamespaceAndClusterWide) {
  const SpendReader alice = Reader("alice-token");
  EXPECT_TRUE(*access_.MayRead(alice, "team-a"));
  EXPECT_FALSE(*access_.MayRead(alice, "team-b"));
  EXPECT_FALSE(*access_.MayRead(alice, ""));
  const SpendReader finance = Reader("finance-token");
  EXPECT_TRUE(*access_.MayRead(finance, ""));
  EXPECT_TRUE(*access_.MayRead(finance, "team-b"));
}

TEST_F(SpendAccessTest, AnswersAreCachedForTheTtl) {
  const SpendReader alice = Reader("alice-token");
  Reader("alice-token");
  ASSERT_TRUE(access_.MayRead(alice, "team-a").ok());
  ASSERT_TRUE(access_.MayRead(alice, "team-a").ok());
  EXPECT_EQ(api_->Requests("tokenreviews"), 1);
  EXPECT_EQ(api_->Requests("subjectaccessreviews"), 1);
  clock_.Advance(seconds{10});
  Reader("alice-token");
  ASSERT_TRUE(access_.MayRead(alice, "team-a").ok());
  EXPECT_EQ(api_->Requests("tokenreviews"), 2);
  EXPECT_EQ(api_->Requests("subjectaccessreviews"), 2);
}

// Callers choose tokens and (through the ledger's rows) namespaces: neither grows the
// caches past their bounds.
TEST_F(SpendAccessTest, AFloodOfTokensAndNamespacesStaysWithinTheBounds) {
  for (int i = 0; i < 200; ++i) {
    api_->AddToken("token-" + std::to_string(i), "user-" + std::to_string(i));
    ASSERT_TRUE(access_.Authenticate("token-" + std::to_string(i)).ok());
    ASSERT_FALSE(access_.Authenticate("forged-" + std::to_string(i)).ok());
  }
  EXPECT_EQ(access_.cached_tokens(), 16U);
  const SpendReader alice = Reader("alice-token");
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(access_.MayRead(alice, "ns-" + std::to_string(i)).ok());
  }
  EXPECT_EQ(access_.cached_decisions(), 32U);
}

}  // namespace
}  // namespace agentbudget::authority
