#include "operator/queue/governance.h"

#include <gtest/gtest.h>

namespace agentbudget::queue {
namespace {

using nlohmann::json;

v1alpha1::Workload Selecting(const std::string& name, const json& match_labels) {
  return v1alpha1::ParseWorkload(
             json{{"metadata", {{"name", name}, {"namespace", "team-a"}}},
                  {"spec",
                   {{"selector", {{"matchLabels", match_labels}}},
                    {"class", "AutonomousBounded"}}}})
      .value();
}

json Object(const json& labels) { return {{"metadata", {{"labels", labels}}}}; }

TEST(GovernanceTest, NamespaceOptsInWithTheInjectLabel) {
  auto labelled = [](const char* value) {
    return json{{"metadata", {{"labels", {{"agentbudget.io/inject", value}}}}}};
  };
  EXPECT_TRUE(OptedIn(labelled("enabled")));
  EXPECT_FALSE(OptedIn(labelled("disabled")));
  EXPECT_FALSE(OptedIn(json::object()));
}

TEST(GovernanceTest, TheWorkloadLabelWinsThenTheSelector) {
  const std::vector<v1alpha1::Workload> workloads = {Selecting("a", {{"app", "agent"}}),
                                                     Selecting("b", {{"app", "other"}})};
  EXPECT_EQ(GoverningWorkload(Object({{"app", "agent"}}), workloads)->name, "a");
  // Stamped by the webhook for b; its other labels no longer match b.
  EXPECT_EQ(GoverningWorkload(Object({{"app", "agent"}, {"agentbudget.io/workload", "b"}}),
                              workloads)
                ->name,
            "b");
  // A label naming no workload of the namespace is no escape from the selector.
  EXPECT_EQ(GoverningWorkload(Object({{"app", "agent"}, {"agentbudget.io/workload", "gone"}}),
                              workloads)
                ->name,
            "a");
  EXPECT_EQ(GoverningWorkload(Object({{"app", "web"}}), workloads), nullptr);
  EXPECT_EQ(GoverningWorkload(json("junk"), workloads), nullptr);
}

}  // namespace
}  // namespace agentbudget::queue
