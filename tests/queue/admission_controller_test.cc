#include "operator/queue/admission_controller.h"

#include <gtest/gtest.h>

#include "tests/queue/queue_fixture.h"

namespace agentbudget::queue {
namespace {

using nlohmann::json;
using testing::QueueFixture;

constexpr char kWorkload[] = "team-a/deploy";

// A Job as the webhook holds it, with `annotations` added.
json HeldJob(const std::string& name, const json& annotations = json::object()) {
  json job = {{"apiVersion", "batch/v1"},
              {"kind", "Job"},
              {"metadata",
               {{"name", name},
                {"namespace", "team-a"},
                {"labels", {{"agentbudget.io/workload", "deploy"}}},
                {"annotations",
                 {{"agentbudget.io/queue",
                   R"({"state":"Pending","reason":"AwaitingAdmission"})"}}}}},
              {"spec", {{"suspend", true}}}};
  job["metadata"]["annotations"].update(annotations);
  return job;
}

class AdmissionControllerTest : public QueueFixture {
 protected:
  void SetUp() override {
    PutNamespace("team-a", true);
    PutWorkload("team-a", "deploy", {{"app", "deploy"}}, {{"approval", {{"required", true}}}});
  }
  json Job(const std::string& name) {
    return *cluster_.Get(kube::resources::kJobs, "team-a", name);
  }

  BudgetPressure pressure_;
  AdmissionController admission_{cache_, writer_, pressure_, metrics_, clock_, {}};
};

TEST_F(AdmissionControllerTest, ApprovalNeedsBothTheApproverAndTheTime) {
  cluster_.Put(kube::resources::kJobs,
               HeldJob("self-approved", {{"agentbudget.io/approved-by", "mallory"}}));
  Start();
  ASSERT_TRUE(admission_.Reconcile(kWorkload).ok());
  const json job = Job("self-approved");
  EXPECT_EQ(job["spec"]["suspend"], true);
  const auto annotation =
      DecodeQueueAnnotation(job["metadata"]["annotations"]["agentbudget.io/queue"]);
  ASSERT_TRUE(annotation.has_value());
  EXPECT_EQ(annotation->reason, "AwaitingApproval");
  EXPECT_TRUE(Events("Approved").empty());
}

TEST_F(AdmissionControllerTest, ApprovedRunIsAdmittedWithAnEventNamingWhoAndWhen) {
  cluster_.Put(kube::resources::kJobs,
               HeldJob("approved", {{"agentbudget.io/approved-by", "alice"},
                                    {"agentbudget.io/approved-at", "2026-11-27T10:05:00Z"}}));
  Start();
  ASSERT_TRUE(admission_.Reconcile(kWorkload).ok());
  EXPECT_EQ(Job("approved")["spec"]["suspend"], false);
  const std::vector<json> events = Events("Approved");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "Normal");
  EXPECT_EQ(events[0]["involvedObject"]["name"], "approved");
  EXPECT_EQ(events[0]["message"], "admitted: approved by alice at 2026-11-27T10:05:00Z");
}

}  // namespace
}  // namespace agentbudget::queue
