#include "operator/certs/webhook_certificates.h"

#include <algorithm>
#include <map>
#include <utility>

#include "common/base64.h"
#include "common/log.h"
#include "kube/resource.h"

namespace agentbudget::certs {
namespace {

using nlohmann::json;

const kube::GroupVersionResource kMutatingConfigurations{
    "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", false};
const kube::GroupVersionResource kValidatingConfigurations{
    "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", false};

// The decoded value of a Secret's data key, "" when absent.
Result<std::string> SecretValue(const json& secret, const std::string& key) {
  const json* data = secret.contains("data") ? &secret["data"] : nullptr;
  if (data == nullptr || !data->is_object() || !data->contains(key)) {
    return std::string();
  }
  if (!(*data)[key].is_string()) {
    return InvalidArgument("data." + key + " is not a string");
  }
  return base64::Decode((*data)[key].get<std::string>());
}

// The object, null when it does not exist, or the error.
Result<json> GetOrNull(kube::Client& client, const kube::GroupVersionResource& gvr,
                       const std::string& ns, const std::string& name) {
  auto object = client.Get(gvr, ns, name);
  if (!object.ok() && object.error().code == ErrorCode::kNotFound) {
    return json();
  }
  return object;
}

// The CAs of the CA Secret, oldest first, each with its key.
Result<std::vector<CertificateAndKey>> ReadCas(const json& secret, const std::string& where) {
  std::vector<CertificateAndKey> cas;
  if (secret.is_null()) {
    return cas;
  }
  auto certs_pem = SecretValue(secret, "ca.crt");
  auto keys_pem = SecretValue(secret, "ca.key");
  if (!certs_pem.ok() || !keys_pem.ok()) {
    return InvalidArgument(where + ": ca.crt or ca.key is not base64");
  }
  auto certs = SplitCertificates(*certs_pem);
  auto keys = SplitPrivateKeys(*keys_pem);
  if (!certs.ok() || !keys.ok() || certs->size() != keys->size() ||
      (certs->empty() && !certs_pem->empty())) {
    return InvalidArgument(where + ": ca.crt and ca.key must hold matching PEM certificates "
                           "and keys, in the same order; delete the Secret to start a new CA");
  }
  for (size_t i = 0; i < certs->size(); ++i) {
    auto matches = KeyMatches((*certs)[i], (*keys)[i]);
    if (!matches.ok() || !*matches) {
      return InvalidArgument(where + ": key " + std::to_string(i) + " does not belong to CA " +
                             std::to_string(i) + "; delete the Secret to start a new CA");
    }
    cas.push_back({(*certs)[i], (*keys)[i]});
  }
  return cas;
}

// The CAs a caBundle (base64 of PEM) trusts; empty when it is missing or malformed.
std::vector<std::string> BundleCas(const json& webhook) {
  const json* config = webhook.contains("clientConfig") ? &webhook["clientConfig"] : nullptr;
  if (config == nullptr || !config->contains("caBundle") || !(*config)["caBundle"].is_string()) {
    return {};
  }
  auto pem = base64::Decode((*config)["caBundle"].get<std::string>());
  if (!pem.ok()) {
    return {};
  }
  auto cas = SplitCertificates(*pem);
  return cas.ok() ? *cas : std::vector<std::string>{};
}

// Creates the Secret, or replaces the data of `existing` (conditional on its
// resourceVersion). A new Secret gets `type`; an existing one keeps its own (immutable).
Status WriteSecret(kube::Client& client, const std::string& ns, const json& existing,
                   const std::string& name, const std::string& type,
                   const std::map<std::string, std::string>& values) {
  json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata",
                  {{"name", name},
                   {"namespace", ns},
                   {"labels",
                    {{"app.kubernetes.io/name", "agentbudget"},
                     {"app.kubernetes.io/managed-by", "agentbudget-operator"}}}}},
                 {"type", existing.is_null() ? type : existing.value("type", type)},
                 {"data", json::object()}};
  for (const auto& [key, value] : values) {
    secret["data"][key] = base64::Encode(value);
  }
  if (!existing.is_null()) {
    secret["metadata"]["resourceVersion"] = kube::ResourceVersionOf(existing);
  }
  auto written = existing.is_null() ? client.Create(kube::resources::kSecrets, ns, secret)
                                    : client.Update(kube::resources::kSecrets, ns, secret);
  if (!written.ok()) {
    return std::move(written).error();
  }
  return OkStatus();
}

}  // namespace

WebhookCertificates::WebhookCertificates(kube::Client& client, const Clock& clock,
                                         Options options)
    : client_(client), clock_(clock), options_(std::move(options)) {}

std::vector<std::string> WebhookCertificates::ServiceHosts(const std::string& service,
                                                           const std::string& ns,
                                                           const std::vector<std::string>& extra) {
  std::vector<std::string> hosts = {service, service + "." + ns, service + "." + ns + ".svc",
                                    service + "." + ns + ".svc.cluster.local"};
  hosts.insert(hosts.end(), extra.begin(), extra.end());
  return hosts;
}

// What one pass reads from the API server.
struct WebhookCertificates::Observed {
  json ca_secret;       // null when absent
  json serving_secret;  // null when absent
  std::vector<CertificateAndKey> cas;  // oldest first
  CertificateAndKey serving;           // empty unless usable
  std::vector<std::pair<const kube::GroupVersionResource*, json>> configurations;
  RotationInput input;
};

Result<WebhookCertificates::Observed> WebhookCertificates::Observe() const {
  const std::string& ns = options_.namespace_name;
  auto ca_secret = GetOrNull(client_, kube::resources::kSecrets, ns, options_.ca_secret);
  auto serving_secret = GetOrNull(client_, kube::resources::kSecrets, ns, options_.serving_secret);
  if (!ca_secret.ok()) {
    return std::move(ca_secret).error();
  }
  if (!serving_secret.ok()) {
    return std::move(serving_secret).error();
  }
  auto cas = ReadCas(*ca_secret, "Secret " + ns + "/" + options_.ca_secret);
  if (!cas.ok()) {
    return std::move(cas).error();
  }
  Observed seen{*ca_secret, *serving_secret, *cas, {}, {}, {}};
  auto& configurations = seen.configurations;
  for (const auto* gvr : {&kMutatingConfigurations, &kValidatingConfigurations}) {
    auto configuration = GetOrNull(client_, *gvr, "", options_.configuration);
    if (!configuration.ok()) {
      return std::move(configuration).error();
    }
    if (!configuration->is_null()) {
      configurations.emplace_back(gvr, std::move(*configuration));
    }
  }

  RotationInput& input = seen.input;
  input.hosts = options_.hosts;
  for (const CertificateAndKey& ca : *cas) {
    auto info = Inspect(ca.cert_pem);
    if (!info.ok()) {
      return std::move(info).error();
    }
    input.cas.push_back(*info);
  }
  if (!serving_secret->is_null()) {
    auto cert = SecretValue(*serving_secret, "tls.crt");
    auto key = SecretValue(*serving_secret, "tls.key");
    auto info = cert.ok() ? Inspect(*cert) : Result<CertificateInfo>(cert.error());
    auto matches = info.ok() && key.ok() ? KeyMatches(*cert, *key) : Result<bool>(false);
    if (info.ok() && matches.ok() && *matches) {
      seen.serving = {*cert, *key};
      input.serving = *info;
      for (size_t i = 0; i < cas->size(); ++i) {
        auto signed_by = IsSignedBy(*cert, (*cas)[i].cert_pem);
        if (signed_by.ok() && *signed_by) {
          input.serving_issuer = static_cast<int>(i);
        }
      }
    }
  }
  input.bundles_carry_newest_ca = true;
  for (const auto& [gvr, configuration] : configurations) {
    for (const json& webhook : configuration.value("webhooks", json::array())) {
      const std::vector<std::string> trusted = BundleCas(webhook);
      input.bundles_carry_newest_ca =
          input.bundles_carry_newest_ca && !cas->empty() &&
          std::find(trusted.begin(), trusted.end(), cas->back().cert_pem) != trusted.end();
    }
  }
  return seen;
}

// Applies `plan` in the order that never breaks trust: the CA Secret, the caBundles, the
// serving Secret.
Status WebhookCertificates::Apply(const RotationPlan& plan, Observed& seen, TimePoint now) {
  const std::string& ns = options_.namespace_name;
  const RotationPolicy& policy = options_.policy;
  std::vector<CertificateAndKey> kept = seen.cas;
  for (auto drop = plan.drop_cas.rbegin(); drop != plan.drop_cas.rend(); ++drop) {
    kept.erase(kept.begin() + static_cast<std::ptrdiff_t>(*drop));
  }
  if (plan.generate_ca) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch());
    auto ca = GenerateCa("agentbudget-webhook-ca-" + std::to_string(seconds.count()),
                         now - policy.backdate, policy.ca_validity);
    if (!ca.ok()) {
      return std::move(ca).error();
    }
    kept.push_back(std::move(*ca));
  }
  std::string bundle;
  std::string keys;
  for (const CertificateAndKey& ca : kept) {
    bundle += ca.cert_pem;
    keys += ca.key_pem;
  }
  const bool cas_changed = plan.generate_ca || !plan.drop_cas.empty();
  if (cas_changed) {
    Status written = WriteSecret(client_, ns, seen.ca_secret, options_.ca_secret, "Opaque",
                                 {{"ca.crt", bundle}, {"ca.key", keys}});
    if (!written.ok()) {
      return written;
    }
  }
  const std::string encoded = base64::Encode(bundle);
  for (auto& [gvr, configuration] : seen.configurations) {
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
      auto updated = client_.Update(*gvr, "", configuration);
      if (!updated.ok()) {
        return std::move(updated).error();
      }
    }
  }
  if (plan.issue_serving) {
    auto issued = IssueServing(kept.back(), options_.hosts, now - policy.backdate,
                               policy.serving_validity);
    if (!issued.ok()) {
      return std::move(issued).error();
    }
    seen.serving = std::move(*issued);
  }
  auto served_bundle = seen.serving_secret.is_null()
                           ? Result<std::string>(std::string())
                           : SecretValue(seen.serving_secret, "ca.crt");
  if (plan.issue_serving || !served_bundle.ok() || *served_bundle != bundle) {
    Status written = WriteSecret(
        client_, ns, seen.serving_secret, options_.serving_secret, "kubernetes.io/tls",
        {{"tls.crt", seen.serving.cert_pem}, {"tls.key", seen.serving.key_pem},
         {"ca.crt", bundle}});
    if (!written.ok()) {
      return written;
    }
  }
  return OkStatus();
}


Result<RotationPlan> WebhookCertificates::Reconcile() {
  const TimePoint now = clock_.Now();
  auto seen = Observe();
  if (!seen.ok()) {
    return std::move(seen).error();
  }
  const RotationPlan plan = PlanRotation(seen->input, now, options_.policy);
  if (Status applied = Apply(plan, *seen, now); !applied.ok()) {
    return std::move(applied).error();
  }
  return plan;
}

std::chrono::milliseconds WebhookCertificates::ReconcileWhenDue(std::chrono::seconds resync,
                                                                std::chrono::seconds retry) {
  const auto now = clock_.Monotonic();
  if (now < next_) {
    return std::chrono::ceil<std::chrono::milliseconds>(next_ - now);
  }
  auto plan = Reconcile();
  if (!plan.ok()) {
    log::Warn("webhook certificates: cannot reconcile; retrying",
              {{"error", plan.error().ToString()}});
    next_ = now + retry;
    return retry;
  }
  if (!plan->empty()) {
    log::Info("webhook certificates", {{"step", plan->reason}});
  }
  next_ = now + resync;
  return resync;
}

}  // namespace agentbudget::certs
