#include "webhook/admission_review.h"

#include <gtest/gtest.h>

#include "common/base64.h"

namespace agentbudget::webhook {
namespace {

nlohmann::json Review() {
  return {{"apiVersion", "admission.k8s.io/v1"},
          {"kind", "AdmissionReview"},
          {"request",
           {{"uid", "705ab4f5-6393-11e8-b7cc-42010a800002"},
            {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
            {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
            {"namespace", "payments"},
            {"operation", "CREATE"},
            {"userInfo",
             {{"username", "system:serviceaccount:payments:agent"},
              {"extra", {{"authentication.kubernetes.io/pod-name", {"agent-0"}}}}}},
            {"object", {{"metadata", {{"name", "p"}}}}},
            {"dryRun", true}}}};
}

TEST(AdmissionReviewTest, DecodesTheFieldsTheRulesRead) {
  auto request = DecodeAdmissionReview(Review().dump());
  ASSERT_TRUE(request.ok()) << request.error().ToString();
  EXPECT_EQ(request->uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
  EXPECT_EQ(request->kind, "Pod");
  EXPECT_EQ(request->namespace_name, "payments");
  EXPECT_EQ(request->operation, "CREATE");
  EXPECT_EQ(request->username, "system:serviceaccount:payments:agent");
  EXPECT_EQ(request->user_extra["authentication.kubernetes.io/pod-name"][0], "agent-0");
  EXPECT_EQ(request->object["metadata"]["name"], "p");
  EXPECT_TRUE(request->dry_run);
}

TEST(AdmissionReviewTest, MalformedJsonIsAnInvalidArgument) {
  auto request = DecodeAdmissionReview("{\"apiVersion\": ");
  ASSERT_FALSE(request.ok());
  EXPECT_EQ(request.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(request.error().message.find("not valid JSON"), std::string::npos);
}

TEST(AdmissionReviewTest, OtherApiVersionIsRefusedByName) {
  nlohmann::json review = Review();
  review["apiVersion"] = "admission.k8s.io/v1beta1";
  auto request = DecodeAdmissionReview(review.dump());
  ASSERT_FALSE(request.ok());
  EXPECT_NE(request.error().message.find("v1beta1"), std::string::npos);
}

TEST(AdmissionReviewTest, WrongKindIsRefused) {
  nlohmann::json review = Review();
  review["kind"] = "Pod";
  EXPECT_FALSE(DecodeAdmissionReview(review.dump()).ok());
}

TEST(AdmissionReviewTest, MissingUidIsRefusedByName) {
  nlohmann::json review = Review();
  review["request"].erase("uid");
  auto request = DecodeAdmissionReview(review.dump());
  ASSERT_FALSE(request.ok());
  EXPECT_NE(request.error().message.find("request.uid"), std::string::npos);
}

TEST(AdmissionReviewTest, NonObjectRequestObjectIsRefused) {
  nlohmann::json review = Review();
  review["request"]["object"] = "a string";
  EXPECT_FALSE(DecodeAdmissionReview(review.dump()).ok());
}

TEST(AdmissionReviewTest, AllowedResponseCarriesTheBase64Patch) {
  AdmissionDecision decision;
  decision.patch = nlohmann::json::array({{{"op", "add"}, {"path", "/a"}, {"value", 1}}});
  auto response = nlohmann::json::parse(EncodeAdmissionReview("u1", decision));
  EXPECT_EQ(response["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(response["kind"], "AdmissionReview");
  EXPECT_EQ(response["response"]["uid"], "u1");
  EXPECT_EQ(response["response"]["allowed"], true);
  EXPECT_EQ(response["response"]["patchType"], "JSONPatch");
  EXPECT_EQ(response["response"]["patch"], base64::Encode(decision.patch.dump()));
}

TEST(AdmissionReviewTest, EmptyPatchIsLeftOut) {
  auto response = nlohmann::json::parse(EncodeAdmissionReview("u1", AdmissionDecision::Allow()));
  EXPECT_FALSE(response["response"].contains("patch"));
  EXPECT_FALSE(response["response"].contains("patchType"));
}

TEST(AdmissionReviewTest, DenialCarriesCodeMessageAndReason) {
  auto response = nlohmann::json::parse(
      EncodeAdmissionReview("u2", AdmissionDecision::Deny(403, "over the cap")));
  EXPECT_EQ(response["response"]["allowed"], false);
  EXPECT_EQ(response["response"]["status"]["code"], 403);
  EXPECT_EQ(response["response"]["status"]["message"], "over the cap");
  EXPECT_EQ(response["response"]["status"]["reason"], "Forbidden");
}

}  // namespace
}  // namespace agentbudget::webhook
