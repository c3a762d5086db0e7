#include "webhook/admission_context.h"

#include "api/v1alpha1/labels.h"

namespace agentbudget::webhook {

bool NamespaceOptedIn(const core::Labels& namespace_labels) {
  auto it = namespace_labels.find(v1alpha1::keys::kInject);
  return it != namespace_labels.end() && it->second == "enabled";
}

}  // namespace agentbudget::webhook
