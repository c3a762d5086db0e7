#include "webhook/admission_review.h"

#include <utility>

#include "common/base64.h"

namespace agentbudget::webhook {
namespace {

constexpr std::string_view kApiVersion = "admission.k8s.io/v1";

// The string at `key` of `object`; an error naming `where` when missing or not a string
// (or empty, unless `allow_empty`).
Result<std::string> RequiredString(const nlohmann::json& object, const char* key,
                                   const std::string& where, bool allow_empty = false) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) {
    return InvalidArgument(where + "." + key + " is missing or not a string");
  }
  std::string value = it->get<std::string>();
  if (value.empty() && !allow_empty) {
    return InvalidArgument(where + "." + key + " is empty");
  }
  return value;
}

std::string OptionalString(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Result<AdmissionRequest> DecodeAdmissionReview(std::string_view body) {
  nlohmann::json review = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (review.is_discarded()) {
    return InvalidArgument("body is not valid JSON");
  }
  if (!review.is_object()) {
    return InvalidArgument("body is not a JSON object");
  }
  if (OptionalString(review, "apiVersion") != kApiVersion) {
    return InvalidArgument("apiVersion must be admission.k8s.io/v1, got \"" +
                           OptionalString(review, "apiVersion") + "\"");
  }
  if (OptionalString(review, "kind") != "AdmissionReview") {
    return InvalidArgument("kind must be AdmissionReview, got \"" +
                           OptionalString(review, "kind") + "\"");
  }
  auto req = review.find("request");
  if (req == review.end() || !req->is_object()) {
    return InvalidArgument("request is missing or not an object");
  }
  AdmissionRequest out;
  auto uid = RequiredString(*req, "uid", "request");
  if (!uid.ok()) {
    return std::move(uid).error();
  }
  out.uid = std::move(uid).value();
  auto kind = req->find("kind");
  if (kind == req->end() || !kind->is_object()) {
    return InvalidArgument("request.kind is missing or not an object");
  }
  auto kind_name = RequiredString(*kind, "kind", "request.kind");
  if (!kind_name.ok()) {
    return std::move(kind_name).error();
  }
  out.kind = std::move(kind_name).value();
  out.kind_group = OptionalString(*kind, "group");
  auto operation = RequiredString(*req, "operation", "request");
  if (!operation.ok()) {
    return std::move(operation).error();
  }
  out.operation = std::move(operation).value();
  out.subresource = OptionalString(*req, "subResource");
  out.name = OptionalString(*req, "name");
  out.namespace_name = OptionalString(*req, "namespace");
  if (auto user = req->find("userInfo"); user != req->end() && user->is_object()) {
    out.username = OptionalString(*user, "username");
    if (auto groups = user->find("groups"); groups != user->end() && groups->is_array()) {
      for (const nlohmann::json& group : *groups) {
        if (group.is_string()) {
          out.groups.push_back(group.get<std::string>());
        }
      }
    }
    if (auto extra = user->find("extra"); extra != user->end() && extra->is_object()) {
      out.user_extra = *extra;
    }
  }
  if (auto object = req->find("object"); object != req->end() && !object->is_null()) {
    if (!object->is_object()) {
      return InvalidArgument("request.object is not an object");
    }
    out.object = std::move(*object);
  }
  if (auto old = req->find("oldObject"); old != req->end() && !old->is_null()) {
    if (!old->is_object()) {
      return InvalidArgument("request.oldObject is not an object");
    }
    out.old_object = std::move(*old);
  }
  if (auto dry = req->find("dryRun"); dry != req->end() && !dry->is_null()) {
    if (!dry->is_boolean()) {
      return InvalidArgument("request.dryRun is not a boolean");
    }
    out.dry_run = dry->get<bool>();
  }
  return out;
}

AdmissionDecision AdmissionDecision::Deny(int code, std::string message, std::string reason) {
  AdmissionDecision d;
  d.allowed = false;
  d.code = code;
  d.message = std::move(message);
  d.reason = std::move(reason);
  return d;
}

std::string EncodeAdmissionReview(std::string_view uid, const AdmissionDecision& decision) {
  nlohmann::json response = {{"uid", uid}, {"allowed", decision.allowed}};
  if (!decision.allowed) {
    response["status"] = {{"code", decision.code},
                          {"message", decision.message},
                          {"reason", decision.reason}};
  } else if (!decision.patch.empty()) {
    response["patchType"] = "JSONPatch";
    response["patch"] = base64::Encode(decision.patch.dump());
  }
  if (!decision.warnings.empty()) {
    response["warnings"] = decision.warnings;
  }
  nlohmann::json review = {{"apiVersion", kApiVersion},
                           {"kind", "AdmissionReview"},
                           {"response", std::move(response)}};
  return review.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace agentbudget::webhook
