#pragma once

#include <memory>

#include "e2e/support/local_cluster.h"
#include "kube/client.h"

namespace agentbudget::kube::e2e {

// A client on the cluster's admin kubeconfig. Fails the calling test (and returns
// nullptr) when there is no cluster or the kubeconfig does not load.
std::unique_ptr<Client> ClientFor(const agentbudget::e2e::LocalCluster* cluster,
                                  ClientOptions options = {});

// Creates namespace `name` (already existing is fine).
Status EnsureNamespace(Client& client, const std::string& name);

}  // namespace agentbudget::kube::e2e
