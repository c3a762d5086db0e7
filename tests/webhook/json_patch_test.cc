#include "webhook/json_patch.h"

#include <gtest/gtest.h>

namespace agentbudget::webhook {
namespace {

TEST(JsonPatchTest, SlashInATokenIsEscapedAsTildeOne) {
  EXPECT_EQ(EscapePointerToken("agentbudget.io/run"), "agentbudget.io~1run");
}

TEST(JsonPatchTest, TildeIsEscapedBeforeSlashSoTheyDoNotCollide) {
  EXPECT_EQ(EscapePointerToken("a~/b"), "a~0~1b");
  EXPECT_EQ(EscapePointerToken("~1"), "~01");
}

TEST(JsonPatchTest, PointerJoinsEscapedTokens) {
  EXPECT_EQ(Pointer({"metadata", "labels", "agentbudget.io/team"}),
            "/metadata/labels/agentbudget.io~1team");
}

TEST(JsonPatchTest, SetMembersAddsTheWholeObjectWhenAbsent) {
  PatchBuilder patch;
  EXPECT_EQ(patch.SetMembers("/metadata/labels", nullptr, {{"a/b", "1"}}), 1u);
  nlohmann::json doc = {{"metadata", nlohmann::json::object()}};
  EXPECT_EQ(doc.patch(patch.ops())["metadata"]["labels"]["a/b"], "1");
}

TEST(JsonPatchTest, SetMembersTouchesOnlyDifferingMembers) {
  nlohmann::json labels = {{"same", "x"}, {"other/key", "old"}};
  PatchBuilder patch;
  EXPECT_EQ(patch.SetMembers("/l", labels, {{"same", "x"}, {"other/key", "new"}, {"n~", "1"}}),
            2u);
  nlohmann::json doc = {{"l", labels}};
  nlohmann::json patched = doc.patch(patch.ops());
  EXPECT_EQ(patched["l"]["other/key"], "new");
  EXPECT_EQ(patched["l"]["n~"], "1");
  EXPECT_EQ(patch.ops()[0]["op"], "add");  // "n~" sorts first: added
  EXPECT_EQ(patch.ops()[0]["path"], "/l/n~0");
  EXPECT_EQ(patch.ops()[1]["op"], "replace");
  EXPECT_EQ(patch.ops()[1]["path"], "/l/other~1key");
}

TEST(JsonPatchTest, AppendCreatesTheArrayOrAppendsWithDash) {
  PatchBuilder absent;
  absent.Append("/spec/volumes", nullptr, 1);
  EXPECT_EQ(absent.ops()[0]["path"], "/spec/volumes");
  EXPECT_EQ(absent.ops()[0]["value"], nlohmann::json::array({1}));
  PatchBuilder present;
  present.Append("/spec/volumes", nlohmann::json::array({0}), 1);
  EXPECT_EQ(present.ops()[0]["path"], "/spec/volumes/-");
}

}  // namespace
}  // namespace agentbudget::webhook
