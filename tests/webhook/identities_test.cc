#include "webhook/identities.h"

#include <gtest/gtest.h>

namespace agentbudget::webhook {
namespace {

TEST(IdentityListTest, MatchesUsersAndGroups) {
  auto list = IdentityList::Parse(" ci-bot , group:release-managers");
  ASSERT_TRUE(list.ok()) << list.error().ToString();
  EXPECT_TRUE(list->Includes("ci-bot", {}));
  EXPECT_TRUE(list->Includes("alice", {"system:authenticated", "release-managers"}));
  EXPECT_FALSE(list->Includes("alice", {"system:authenticated"}));
  EXPECT_FALSE(list->Includes("release-managers", {}));  // a group is no user
  EXPECT_EQ(list->ToString(), "ci-bot,group:release-managers");
}

TEST(IdentityListTest, EmptyTextIsTheEmptyList) {
  auto list = IdentityList::Parse("");
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
  EXPECT_FALSE(list->Includes("", {}));
}

TEST(IdentityListTest, MalformedItemsAreRefused) {
  for (const char* text : {"a,,b", "a,", "group:", "two words"}) {
    EXPECT_FALSE(IdentityList::Parse(text).ok()) << text;
  }
}

}  // namespace
}  // namespace agentbudget::webhook
