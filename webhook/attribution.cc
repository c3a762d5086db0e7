#include "webhook/attribution.h"

#include <cctype>

#include "api/v1alpha1/labels.h"

namespace agentbudget::webhook {

UserAndParent ResolveUserAndParent(const nlohmann::json& object,
                                   const AttributionSource& source) {
  const core::Labels labels = v1alpha1::LabelsOf(object);
  auto label = [&labels](const char* key) {
    auto it = labels.find(key);
    return it == labels.end() ? std::string() : it->second;
  };
  if (source.job_controller_pod) {
    return {label(v1alpha1::keys::kUser), label(v1alpha1::keys::kParentRun)};
  }
  UserAndParent out;
  out.user = source.trusted_creator ? label(v1alpha1::keys::kUser) : "";
  if (out.user.empty()) {
    out.user = SanitizeLabelValue(source.username);
  }
  out.parent_run = source.creating_pod_run;
  if (out.parent_run.empty() && source.trusted_creator) {
    out.parent_run = label(v1alpha1::keys::kParentRun);
  }
  return out;
}

std::string SanitizeLabelValue(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool ok = (std::isalnum(static_cast<unsigned char>(c)) != 0) || c == '-' || c == '_' ||
                    c == '.';
    out += ok ? c : '-';
    if (out.size() == 63) {
      break;
    }
  }
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  while (!out.empty() && !alnum(out.back())) {
    out.pop_back();
  }
  size_t start = 0;
  while (start < out.size() && !alnum(out[start])) {
    ++start;
  }
  return out.substr(start);
}

SystemMetadata AttributionFor(const AdmissionContext& context, bool include_run) {
  const v1alpha1::Workload& w = *context.workload;
  SystemMetadata a;
  a.labels[v1alpha1::keys::kWorkload] = w.name;
  if (auto team = context.namespace_labels.find(v1alpha1::keys::kTeam);
      team != context.namespace_labels.end()) {
    a.labels[v1alpha1::keys::kTeam] = team->second;
  }
  if (!w.workflow.empty()) {
    a.labels[v1alpha1::keys::kWorkflow] = SanitizeLabelValue(w.workflow);
  }
  if (!w.environment.empty()) {
    a.labels[v1alpha1::keys::kEnvironment] = SanitizeLabelValue(w.environment);
  }
  if (!w.workload_class.empty()) {
    a.labels[v1alpha1::keys::kClass] = w.workload_class;
  }
  if (!w.priority.empty()) {
    a.labels[v1alpha1::keys::kPriority] = w.priority;
  }
  if (std::string user = SanitizeLabelValue(context.user); !user.empty()) {
    a.labels[v1alpha1::keys::kUser] = user;
  }
  if (include_run && !context.run.empty()) {
    a.labels[v1alpha1::keys::kRun] = SanitizeLabelValue(context.run);
  }
  if (!context.parent_run.empty()) {
    a.labels[v1alpha1::keys::kParentRun] = SanitizeLabelValue(context.parent_run);
  }
  if (!w.repo.empty()) {
    a.annotations[v1alpha1::keys::kRepo] = w.repo;
  }
  if (auto cc = context.namespace_labels.find(v1alpha1::keys::kCostCenter);
      cc != context.namespace_labels.end()) {
    a.annotations[v1alpha1::keys::kCostCenter] = cc->second;
  }
  if (!w.tags.empty()) {
    a.annotations[v1alpha1::keys::kTags] = nlohmann::json(w.tags).dump();
  }
  return a;
}

}  // namespace agentbudget::webhook
