#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "kube/client.h"

namespace agentbudget::certs {

// The object `name` of `gvr` in `ns`; null JSON when it does not exist; the API server's
// error otherwise.
Result<nlohmann::json> GetOrNull(kube::Client& client, const kube::GroupVersionResource& gvr,
                                 const std::string& ns, const std::string& name);

}  // namespace agentbudget::certs
