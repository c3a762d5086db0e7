#include "operator/certs/objects.h"

namespace agentbudget::certs {

Result<nlohmann::json> GetOrNull(kube::Client& client, const kube::GroupVersionResource& gvr,
                                 const std::string& ns, const std::string& name) {
  auto object = client.Get(gvr, ns, name);
  if (!object.ok() && object.error().code == ErrorCode::kNotFound) {
    return nlohmann::json();
  }
  return object;
}

}  // namespace agentbudget::certs
