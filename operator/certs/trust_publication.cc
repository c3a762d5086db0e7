#include "operator/certs/trust_publication.h"

#include <algorithm>

#include "common/base64.h"
#include "kube/resource.h"
#include "operator/certs/objects.h"

namespace agentbudget::certs {
namespace {

using nlohmann::json;

const kube::GroupVersionResource kMutatingConfigurations{
    "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", false};
const kube::GroupVersionResource kValidatingConfigurations{
    "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", false};

// Whether a PEM bundle holds `ca_pem`; false when it does not parse.
bool BundleHolds(const std::string& bundle, const std::string& ca_pem) {
  auto cas = SplitCertificates(bundle);
  return cas.ok() && std::find(cas->begin(), cas->end(), ca_pem) != cas->end();
}

// The PEM a webhook's caBundle (base64 of PEM) holds; "" when it is missing or malformed.
std::string BundleOf(const json& webhook) {
  const json* config = webhook.contains("clientConfig") ? &webhook["clientConfig"] : nullptr;
  if (config == nullptr || !config->contains("caBundle") || !(*config)["caBundle"].is_string()) {
    return "";
  }
  auto pem = base64::Decode((*config)["caBundle"].get<std::string>());
  return pem.ok() ? *pem : "";
}

}  // namespace

Status WebhookCaBundles::Observe(kube::Client& client) {
  configurations_.clear();
  for (const auto* gvr : {&kMutatingConfigurations, &kValidatingConfigurations}) {
    auto configuration = GetOrNull(client, *gvr, "", configuration_);
    if (!configuration.ok()) {
      return std::move(configuration).error();
    }
    if (!configuration->is_null()) {
      configurations_.emplace_back(gvr, std::move(*configuration));
    }
  }
  return OkStatus();
}

bool WebhookCaBundles::Trusts(const std::string& ca_pem, const CertificateInfo&, TimePoint) const {
  for (const auto& [gvr, configuration] : configurations_) {
    for (const json& webhook : configuration.value("webhooks", json::array())) {
      if (!BundleHolds(BundleOf(webhook), ca_pem)) {
        return false;
      }
    }
  }
  return true;
}

Status WebhookCaBundles::Publish(kube::Client& client, const std::string& bundle) {
  const std::string encoded = base64::Encode(bundle);
  for (auto& [gvr, configuration] : configurations_) {
    bool changed = false;
    if (configuration.contains("webhooks") && configuration["webhooks"].is_array()) {
      for (json& webhook : configuration["webhooks"]) {
        json& client_config = webhook["clientConfig"];
        if (client_config.value("caBundle", "") != encoded) {
          client_config["caBundle"] = encoded;
          changed = true;
        }
      }
    }
    if (changed) {
      auto updated = client.Update(*gvr, "", configuration);
      if (!updated.ok()) {
        return std::move(updated).error();
      }
      configuration = std::move(*updated);
    }
  }
  return OkStatus();
}

Status CaConfigMap::Observe(kube::Client& client) {
  auto found = GetOrNull(client, kube::resources::kConfigMaps, namespace_, name_);
  if (!found.ok()) {
    return std::move(found).error();
  }
  config_map_ = std::move(*found);
  return OkStatus();
}

bool CaConfigMap::Trusts(const std::string& ca_pem, const CertificateInfo& ca,
                         TimePoint now) const {
  if (config_map_.is_null()) {
    return false;
  }
  const json& data = config_map_.contains("data") ? config_map_["data"] : json();
  const bool present = data.is_object() && data.contains(kKey) && data[kKey].is_string();
  const std::string published = present ? data[kKey].get<std::string>() : "";
  return BundleHolds(published, ca_pem) && now >= ca.not_before + trust_delay_;
}

Status CaConfigMap::Publish(kube::Client& client, const std::string& bundle) {
  if (!config_map_.is_null() && config_map_.contains("data") && config_map_["data"].is_object() &&
      config_map_["data"].value(kKey, "") == bundle) {
    return OkStatus();
  }
  json object = {{"apiVersion", "v1"},
                 {"kind", "ConfigMap"},
                 {"metadata",
                  {{"name", name_},
                   {"namespace", namespace_},
                   {"labels",
                    {{"app.kubernetes.io/name", "agentbudget"},
                     {"app.kubernetes.io/managed-by", "agentbudget-operator"}}}}},
                 {"data", {{kKey, bundle}}}};
  Result<json> written = json();
  if (config_map_.is_null()) {
    written = client.Create(kube::resources::kConfigMaps, namespace_, object);
  } else {
    object["metadata"]["resourceVersion"] = kube::ResourceVersionOf(config_map_);
    written = client.Update(kube::resources::kConfigMaps, namespace_, object);
  }
  if (!written.ok()) {
    return std::move(written).error();
  }
  config_map_ = std::move(*written);
  return OkStatus();
}

}  // namespace agentbudget::certs
