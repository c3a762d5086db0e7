#include "webhook/approvals.h"

#include <gtest/gtest.h>

#include "tests/webhook/rules_fixture.h"

namespace agentbudget::webhook {
namespace {

using nlohmann::json;

class ApprovalsTest : public ::testing::Test, public testing::RulesFixture {
 protected:
  ApprovalsTest() {
    workload_.approvers.users = {"alice"};
    workload_.approvers.groups = {"release-managers"};
    held_ = InjectedJob(testing::AgentJob());
  }
  static json Annotated(json object, const json& annotations) {
    for (const auto& [key, value] : annotations.items()) {
      object["metadata"]["annotations"][key] = value;
    }
    return object;
  }
  // The update as the mutating webhook leaves it for `username`.
  json Approved(const json& update, const std::string& username) const {
    return update.patch(ApprovalPatch(held_, update, username, kNow));
  }
  std::string RuleOf(const json& update, const std::string& username,
                     const std::vector<std::string>& groups = {}) const {
    auto violation = ApprovalViolation(held_, update, username, groups, &workload_);
    return violation ? violation->rule : "";
  }

  static constexpr core::SysSeconds kNow{std::chrono::seconds(1'800'000'000)};
  json held_;
};

TEST_F(ApprovalsTest, AnApprovalIsRewrittenToTheApproverAndTheTime) {
  json update = Annotated(held_, {{"agentbudget.io/approved-by", "yes"}});
  EXPECT_TRUE(IsApproval(held_, update));
  json out = Approved(update, "alice");
  EXPECT_EQ(out["metadata"]["annotations"]["agentbudget.io/approved-by"], "alice");
  EXPECT_EQ(out["metadata"]["annotations"]["agentbudget.io/approved-at"], "2027-01-15T08:00:00Z");
  EXPECT_EQ(RuleOf(out, "alice"), "");
}

TEST_F(ApprovalsTest, AnApproverByGroupMayApprove) {
  json out = Approved(Annotated(held_, {{"agentbudget.io/approved-by", "ok"}}), "bob");
  EXPECT_EQ(RuleOf(out, "bob", {"system:authenticated", "release-managers"}), "");
}

TEST_F(ApprovalsTest, SelfApprovalByANonApproverIsRefused) {
  json out = Approved(Annotated(held_, {{"agentbudget.io/approved-by", "yes"}}), "mallory");
  auto violation = ApprovalViolation(held_, out, "mallory", {"system:authenticated"}, &workload_);
  ASSERT_TRUE(violation);
  EXPECT_EQ(violation->rule, "approvers");
  EXPECT_EQ(violation->problem, "\"mallory\" is not an approver of AgentWorkload pr-review");
}

TEST_F(ApprovalsTest, AnApprovalNamingSomeoneElseIsRefused) {
  // As when the mutating webhook did not run: the approver wrote another name.
  json update = Annotated(held_, {{"agentbudget.io/approved-by", "bob"},
                                  {"agentbudget.io/approved-at", "2027-01-15T08:00:00Z"}});
  EXPECT_EQ(RuleOf(update, "alice"), "approvers");
}

TEST_F(ApprovalsTest, AnApprovalWithoutATimeIsRefused) {
  EXPECT_EQ(RuleOf(Annotated(held_, {{"agentbudget.io/approved-by", "alice"}}), "alice"),
            "approvers");
  EXPECT_EQ(RuleOf(Annotated(held_, {{"agentbudget.io/approved-by", "alice"},
                                     {"agentbudget.io/approved-at", "soon"}}),
                   "alice"),
            "approvers");
}

TEST_F(ApprovalsTest, NoApproversMeansNobodyApproves) {
  workload_.approvers = {};
  json out = Approved(Annotated(held_, {{"agentbudget.io/approved-by", "yes"}}), "alice");
  auto violation = ApprovalViolation(held_, out, "alice", {}, &workload_);
  ASSERT_TRUE(violation);
  EXPECT_EQ(violation->rule, "approvers");
  EXPECT_NE(violation->problem.find("lists no spec.approval.approvers"), std::string::npos);
  EXPECT_EQ(ApprovalViolation(held_, out, "alice", {}, nullptr)->rule, "approvers");
}

TEST_F(ApprovalsTest, TheTimeCannotChangeAlone) {
  json approved = Approved(Annotated(held_, {{"agentbudget.io/approved-by", "yes"}}), "alice");
  json later = Annotated(approved, {{"agentbudget.io/approved-at", "2030-01-01T00:00:00Z"}});
  EXPECT_FALSE(IsApproval(approved, later));
  auto violation = ApprovalViolation(approved, later, "alice", {}, &workload_);
  ASSERT_TRUE(violation);
  EXPECT_EQ(violation->rule, "system-metadata");
}

TEST_F(ApprovalsTest, AnApprovalCannotBeRemoved) {
  json approved = Approved(Annotated(held_, {{"agentbudget.io/approved-by", "yes"}}), "alice");
  json removed = approved;
  removed["metadata"]["annotations"].erase("agentbudget.io/approved-by");
  removed["metadata"]["annotations"].erase("agentbudget.io/approved-at");
  EXPECT_TRUE(ApprovalPatch(approved, removed, "alice", kNow).empty());
  EXPECT_EQ(ApprovalViolation(approved, removed, "alice", {}, &workload_)->rule,
            "system-metadata");
}

TEST_F(ApprovalsTest, AnUpdateThatLeavesTheApprovalAloneIsNoApproval) {
  json relabelled = held_;
  relabelled["metadata"]["labels"]["app"] = "x";
  EXPECT_FALSE(IsApproval(held_, relabelled));
  EXPECT_TRUE(ApprovalPatch(held_, relabelled, "alice", kNow).empty());
  EXPECT_EQ(RuleOf(relabelled, "mallory"), "");
}

}  // namespace
}  // namespace agentbudget::webhook
