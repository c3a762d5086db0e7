#include "webhook/stored_match.h"

#include <gtest/gtest.h>

namespace agentbudget::webhook {
namespace {

using nlohmann::json;

TEST(StoredMatchTest, EqualPartsMatch) {
  json built = {{"name", "m"}, {"args", {"a", "b"}}, {"env", {{{"name", "X"}, {"value", "1"}}}}};
  EXPECT_EQ(StoredDifference(built, built), "");
}

TEST(StoredMatchTest, FieldsTheApiServerDefaultsMayBeAdded) {
  json built = {{"ports", {{{"containerPort", 8788}}}}, {"startupProbe", {{"httpGet", {{"port", 8788}}}}}};
  json stored = built;
  stored["terminationMessagePath"] = "/dev/termination-log";
  stored["ports"][0]["protocol"] = "TCP";
  stored["startupProbe"]["httpGet"]["scheme"] = "HTTP";
  stored["startupProbe"]["timeoutSeconds"] = 1;
  EXPECT_EQ(StoredDifference(stored, built), "");
}

// On a hostNetwork pod the API server sets each port's hostPort to its containerPort.
TEST(StoredMatchTest, AHostPortEqualToTheContainerPortMayBeAddedAndNoOther) {
  json built = {{"ports", {{{"containerPort", 8788}, {"name", "meter-health"}}}}};
  json stored = built;
  stored["ports"][0]["hostPort"] = 8788;
  EXPECT_EQ(StoredDifference(stored, built), "");
  stored["ports"][0]["hostPort"] = 80;
  EXPECT_EQ(StoredDifference(stored, built),
            "ports[0].hostPort is set to 80, which agentbudget does not set");
}

TEST(StoredMatchTest, AnythingElseAddedIsADifference) {
  json built = {{"name", "m"}, {"image", "i"}};
  json stored = built;
  stored["command"] = {"/bin/sh"};
  EXPECT_EQ(StoredDifference(stored, built),
            "command is set to [\"/bin/sh\"], which agentbudget does not set");
}

TEST(StoredMatchTest, ChangedAndMissingValuesAreNamedByTheirPath) {
  json built = {{"env", {{{"name", "RUN"}, {"value", "r1"}}}}, {"image", "i"}};
  json changed = built;
  changed["env"][0]["value"] = "r2";
  EXPECT_EQ(StoredDifference(changed, built), "env[0].value is \"r2\", agentbudget sets \"r1\"");
  json missing = built;
  missing.erase("image");
  EXPECT_EQ(StoredDifference(missing, built), "image is missing, agentbudget sets \"i\"");
  json longer = built;
  longer["env"].push_back({{"name", "EXTRA"}, {"value", "x"}});
  EXPECT_NE(StoredDifference(longer, built), "");
}

TEST(StoredMatchTest, ThePodsOwnServiceAccountTokenMountMayBeAdded) {
  json built = {{"volumeMounts", {{{"name", "agentbudget-token"}, {"mountPath", "/t"}}}}};
  json stored = built;
  stored["volumeMounts"].push_back({{"name", "kube-api-access-x7k2q"},
                                    {"mountPath", "/var/run/secrets/kubernetes.io/serviceaccount"},
                                    {"readOnly", true}});
  EXPECT_EQ(StoredDifference(stored, built), "");
  stored["volumeMounts"][1]["mountPath"] = "/elsewhere";
  EXPECT_NE(StoredDifference(stored, built), "");
}

TEST(StoredMatchTest, ResourcesAreNotCompared) {
  json built = {{"resources", {{"limits", {{"cpu", "500m"}}}}}};
  json stored = {{"resources", {{"limits", {{"cpu", "0.5"}}}}}};
  EXPECT_EQ(StoredDifference(stored, built), "");
}

}  // namespace
}  // namespace agentbudget::webhook
