#include "webhook/attribution.h"

#include <gtest/gtest.h>

namespace agentbudget::webhook {
namespace {

using nlohmann::json;

json Labelled(const json& labels) { return {{"metadata", {{"labels", labels}}}}; }

const json kForged = Labelled({{"agentbudget.io/user", "alice"},
                               {"agentbudget.io/parent-run", "someone-elses-run"}});

TEST(ResolveUserAndParentTest, AnyoneIsChargedAsThemselvesWhateverTheLabelsSay) {
  AttributionSource source;
  source.username = "mallory@example.com";
  UserAndParent out = ResolveUserAndParent(kForged, source);
  EXPECT_EQ(out.user, "mallory-example.com");
  EXPECT_EQ(out.parent_run, "");
}

TEST(ResolveUserAndParentTest, ATrustedCreatorsLabelsAreHonoured) {
  AttributionSource source;
  source.username = "system:serviceaccount:ci:runner";
  source.trusted_creator = true;
  UserAndParent out = ResolveUserAndParent(kForged, source);
  EXPECT_EQ(out.user, "alice");
  EXPECT_EQ(out.parent_run, "someone-elses-run");
  // Without a user label a trusted creator is charged as itself.
  EXPECT_EQ(ResolveUserAndParent(Labelled(json::object()), source).user,
            "system-serviceaccount-ci-runner");
}

TEST(ResolveUserAndParentTest, TheCreatingPodsRunIsTheParentForEveryone) {
  AttributionSource source;
  source.username = "system:serviceaccount:payments:agent";
  source.creating_pod_run = "orchestrator-run";
  EXPECT_EQ(ResolveUserAndParent(kForged, source).parent_run, "orchestrator-run");
  source.trusted_creator = true;
  EXPECT_EQ(ResolveUserAndParent(kForged, source).parent_run, "orchestrator-run");
}

TEST(ResolveUserAndParentTest, AJobControllersPodTakesBothFromItsTemplateLabels) {
  AttributionSource source;
  source.username = "system:serviceaccount:kube-system:job-controller";
  source.job_controller_pod = true;
  UserAndParent out = ResolveUserAndParent(kForged, source);
  EXPECT_EQ(out.user, "alice");
  EXPECT_EQ(out.parent_run, "someone-elses-run");
  EXPECT_EQ(ResolveUserAndParent(Labelled(json::object()), source).user, "");
}

TEST(SanitizeLabelValueTest, ReplacesInvalidCharactersAndTrimsTheEnds) {
  EXPECT_EQ(SanitizeLabelValue("system:serviceaccount:ci:runner"),
            "system-serviceaccount-ci-runner");
  EXPECT_EQ(SanitizeLabelValue("-alice@example.com-"), "alice-example.com");
  EXPECT_EQ(SanitizeLabelValue(std::string(100, 'a')).size(), 63u);
  EXPECT_EQ(SanitizeLabelValue("::"), "");
}

}  // namespace
}  // namespace agentbudget::webhook
