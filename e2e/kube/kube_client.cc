#include "e2e/kube/kube_client.h"

#include <gtest/gtest.h>

namespace agentbudget::kube::e2e {

std::unique_ptr<Client> ClientFor(const agentbudget::e2e::LocalCluster* cluster,
                                  ClientOptions options) {
  if (cluster == nullptr) {
    ADD_FAILURE() << "no cluster";
    return nullptr;
  }
  Result<RestConfig> config = LoadKubeconfig(cluster->kubeconfig());
  if (!config.ok()) {
    ADD_FAILURE() << config.error().ToString();
    return nullptr;
  }
  Result<std::unique_ptr<Client>> client = Client::Create(*config, options);
  if (!client.ok()) {
    ADD_FAILURE() << client.error().ToString();
    return nullptr;
  }
  return std::move(client).value();
}

Status EnsureNamespace(Client& client, const std::string& name) {
  Result<nlohmann::json> created = client.Create(
      resources::kNamespaces, "",
      {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}});
  if (!created.ok() && created.error().code != ErrorCode::kAlreadyExists) {
    return std::move(created).error();
  }
  return OkStatus();
}

}  // namespace agentbudget::kube::e2e
