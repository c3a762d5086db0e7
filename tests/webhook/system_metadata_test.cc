#include "webhook/system_metadata.h"

#include <gtest/gtest.h>

#include "api/v1alpha1/labels.h"

namespace agentbudget::webhook {
namespace {

using nlohmann::json;

TEST(SystemKeyTest, EveryAgentbudgetKeyButModelsAndOutcomeIsTheSystems) {
  EXPECT_TRUE(v1alpha1::IsSystemKey("agentbudget.io/user"));
  EXPECT_TRUE(v1alpha1::IsSystemKey("agentbudget.io/anything-new"));
  EXPECT_FALSE(v1alpha1::IsSystemKey("agentbudget.io/models"));
  EXPECT_FALSE(v1alpha1::IsSystemKey("agentbudget.io/outcome"));
  EXPECT_FALSE(v1alpha1::IsSystemKey("example.com/agentbudget.io"));
  EXPECT_FALSE(v1alpha1::IsSystemKey("app"));
}

TEST(SystemMetadataTest, ReadsOnlySystemKeysAndNonStringsAsTheirJson) {
  json metadata = {{"labels", {{"agentbudget.io/user", "u"}, {"app", "a"}}},
                   {"annotations", {{"agentbudget.io/models", "m"}, {"agentbudget.io/x", 5}}}};
  SystemMetadata m = SystemMetadataOf(metadata);
  EXPECT_EQ(m.labels, (core::Labels{{"agentbudget.io/user", "u"}}));
  EXPECT_EQ(m.annotations, (core::Labels{{"agentbudget.io/x", "5"}}));
  EXPECT_EQ(SystemMetadataOf(json("not metadata")), SystemMetadata{});
}

TEST(SystemMetadataTest, PatchRemovesOtherSystemKeysAndSetsTheWantedOnes) {
  json object = {{"metadata",
                  {{"labels",
                    {{"agentbudget.io/user", "mallory"}, {"agentbudget.io/x~y", "1"}, {"app", "a"}}},
                   {"annotations", {{"agentbudget.io/models", "m"}}}}}};
  SystemMetadata want;
  want.labels = {{"agentbudget.io/user", "alice"}, {"agentbudget.io/team", "t"}};
  want.annotations = {{"agentbudget.io/repo", "r"}};
  PatchBuilder patch;
  PatchSystemMetadata("/metadata", object["metadata"], want, patch);
  json out = object.patch(patch.ops());
  EXPECT_EQ(SystemMetadataOf(out["metadata"]), want);
  EXPECT_EQ(out["metadata"]["labels"]["app"], "a");
  EXPECT_EQ(out["metadata"]["annotations"]["agentbudget.io/models"], "m");
}

TEST(SystemMetadataTest, PatchCreatesAbsentMetadata) {
  json object = {{"spec", json::object()}};
  SystemMetadata want;
  want.labels = {{"agentbudget.io/team", "t"}};
  PatchBuilder patch;
  PatchSystemMetadata("/spec/metadata", nullptr, want, patch);
  EXPECT_EQ(SystemMetadataOf(object.patch(patch.ops())["spec"]["metadata"]), want);
}

TEST(SystemMetadataTest, FirstChangeNamesAddedChangedAndRemovedKeys) {
  SystemMetadata from;
  from.labels = {{"agentbudget.io/team", "a"}, {"agentbudget.io/user", "u"}};
  SystemMetadata to = from;
  EXPECT_FALSE(FirstChange(from, to));
  to.labels["agentbudget.io/team"] = "b";
  EXPECT_EQ(FirstChange(from, to)->Describe(), "label agentbudget.io/team \"a\" -> \"b\"");
  to = from;
  to.labels.erase("agentbudget.io/user");
  EXPECT_EQ(FirstChange(from, to)->Describe(), "label agentbudget.io/user removed (was \"u\")");
  to = from;
  to.annotations["agentbudget.io/approved-by"] = "me";
  EXPECT_EQ(FirstChange(from, to)->Describe(),
            "annotation agentbudget.io/approved-by added (\"me\")");
  EXPECT_FALSE(FirstChange(from, to, {"agentbudget.io/approved-by"}));
}

}  // namespace
}  // namespace agentbudget::webhook
