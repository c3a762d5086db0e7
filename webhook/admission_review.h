#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace agentbudget::webhook {

// The parts of an admission.k8s.io/v1 AdmissionReview request the webhook reads.
// A value type.
struct AdmissionRequest {
  std::string uid;
  std::string kind_group;    // request.kind.group: "" for Pods, "batch" for Jobs
  std::string kind;          // request.kind.kind: "Pod", "Job", "AgentWorkload"
  std::string subresource;   // "" for the object itself
  std::string name;          // may be "" on CREATE with generateName
  std::string namespace_name;
  std::string operation;     // CREATE, UPDATE, DELETE, CONNECT
  std::string username;      // userInfo.username
  std::vector<std::string> groups;  // userInfo.groups (non-string entries left out)
  nlohmann::json user_extra = nlohmann::json::object();  // userInfo.extra
  nlohmann::json object;      // null for DELETE
  nlohmann::json old_object;  // null for CREATE
  bool dry_run = false;
};

// Parses an AdmissionReview body. Fails with kInvalidArgument, naming the problem, when the
// body is not JSON, apiVersion is not admission.k8s.io/v1, kind is not AdmissionReview, or
// request, request.uid, request.kind or request.operation are missing or of the wrong type;
// also when request.object is present but not a JSON object. Never throws.
Result<AdmissionRequest> DecodeAdmissionReview(std::string_view body);

// What the webhook answers. A value type.
struct AdmissionDecision {
  bool allowed = true;
  // For denials: the HTTP-like status code shown to the user (403 for policy, 400 for bad
  // input, 500 for internal errors) and the message naming what was violated.
  int code = 0;
  std::string message;
  std::string reason;  // metav1.StatusReason, e.g. "Forbidden"
  std::string rule;    // the rule that denied ("reserved-name"), when one did; not sent
  // An RFC 6902 patch (JSON array). Sent only when allowed and non-empty.
  nlohmann::json patch = nlohmann::json::array();
  std::vector<std::string> warnings;

  static AdmissionDecision Allow() { return AdmissionDecision{}; }
  static AdmissionDecision Deny(int code, std::string message, std::string reason = "Forbidden");
};

// The AdmissionReview response body for the request `uid` (may be "" when the request
// could not be decoded; the API server then rejects the answer, failing per policy).
// Patches are base64-encoded with patchType JSONPatch. Never throws (invalid UTF-8 in
// messages is replaced).
std::string EncodeAdmissionReview(std::string_view uid, const AdmissionDecision& decision);

}  // namespace agentbudget::webhook
