#include "operator/certs/certificates.h"

#include <algorithm>
#include <map>
#include <utility>

#include "common/base64.h"
#include "common/log.h"
#include "kube/resource.h"
#include "operator/certs/objects.h"

namespace agentbudget::certs {
namespace {

using nlohmann::json;

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

Certificates::Certificates(kube::Client& client, const Clock& clock, Options options)
    : client_(client), clock_(clock), options_(std::move(options)) {}

std::vector<std::string> Certificates::ServiceHosts(const std::string& service,
                                                    const std::string& ns,
                                                    const std::vector<std::string>& extra) {
  std::vector<std::string> hosts = {service, service + "." + ns, service + "." + ns + ".svc",
                                    service + "." + ns + ".svc.cluster.local"};
  hosts.insert(hosts.end(), extra.begin(), extra.end());
  return hosts;
}

// What one pass reads from the API server.
struct Certificates::Observed {
  json ca_secret;                      // null when absent
  std::vector<CertificateAndKey> cas;  // oldest first
  std::vector<json> serving_secrets;   // per serving; null when absent
  std::vector<CertificateAndKey> servings;  // per serving; empty unless usable
  RotationInput input;
};

Result<Certificates::Observed> Certificates::Observe() {
  const std::string& ns = options_.namespace_name;
  auto ca_secret = GetOrNull(client_, kube::resources::kSecrets, ns, options_.ca_secret);
  if (!ca_secret.ok()) {
    return std::move(ca_secret).error();
  }
  auto cas = ReadCas(*ca_secret, "Secret " + ns + "/" + options_.ca_secret);
  if (!cas.ok()) {
    return std::move(cas).error();
  }
  Observed seen{*ca_secret, *cas, {}, {}, {}};
  RotationInput& input = seen.input;
  for (const CertificateAndKey& ca : *cas) {
    auto info = Inspect(ca.cert_pem);
    if (!info.ok()) {
      return std::move(info).error();
    }
    input.cas.push_back(*info);
  }
  const TimePoint now = clock_.Now();
  for (Serving& serving : options_.servings) {
    auto secret = GetOrNull(client_, kube::resources::kSecrets, ns, serving.secret);
    if (!secret.ok()) {
      return std::move(secret).error();
    }
    if (Status published = serving.publication->Observe(client_); !published.ok()) {
      return std::move(published).error();
    }
    ServingInput current;
    current.hosts = serving.hosts;
    CertificateAndKey pair;
    if (!secret->is_null()) {
      auto cert = SecretValue(*secret, "tls.crt");
      auto key = SecretValue(*secret, "tls.key");
      auto info = cert.ok() ? Inspect(*cert) : Result<CertificateInfo>(cert.error());
      auto matches = info.ok() && key.ok() ? KeyMatches(*cert, *key) : Result<bool>(false);
      if (info.ok() && matches.ok() && *matches) {
        pair = {*cert, *key};
        current.current = *info;
        for (size_t i = 0; i < cas->size(); ++i) {
          auto signed_by = IsSignedBy(*cert, (*cas)[i].cert_pem);
          if (signed_by.ok() && *signed_by) {
            current.issuer = static_cast<int>(i);
          }
        }
      }
    }
    current.trusts_newest_ca =
        !cas->empty() &&
        serving.publication->Trusts(cas->back().cert_pem, input.cas.back(), now);
    input.servings.push_back(std::move(current));
    seen.serving_secrets.push_back(std::move(*secret));
    seen.servings.push_back(std::move(pair));
  }
  return seen;
}

// Applies `plan` in the order that never breaks trust: the CA Secret, the publications, the
// serving Secrets.
Status Certificates::Apply(const RotationPlan& plan, Observed& seen, TimePoint now) {
  const std::string& ns = options_.namespace_name;
  const RotationPolicy& policy = options_.policy;
  std::vector<CertificateAndKey> kept = seen.cas;
  for (auto drop = plan.drop_cas.rbegin(); drop != plan.drop_cas.rend(); ++drop) {
    kept.erase(kept.begin() + static_cast<std::ptrdiff_t>(*drop));
  }
  if (plan.generate_ca) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch());
    auto ca = GenerateCa("agentbudget-ca-" + std::to_string(seconds.count()),
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
  if (plan.generate_ca || !plan.drop_cas.empty()) {
    Status written = WriteSecret(client_, ns, seen.ca_secret, options_.ca_secret, "Opaque",
                                 {{"ca.crt", bundle}, {"ca.key", keys}});
    if (!written.ok()) {
      return written;
    }
  }
  for (Serving& serving : options_.servings) {
    if (Status published = serving.publication->Publish(client_, bundle); !published.ok()) {
      return published;
    }
  }
  for (size_t s = 0; s < options_.servings.size(); ++s) {
    const Serving& serving = options_.servings[s];
    CertificateAndKey& pair = seen.servings[s];
    const Issue issue = s < plan.issue.size() ? plan.issue[s] : Issue::kNone;
    if (issue != Issue::kNone) {
      const int issuer = seen.input.servings[s].issuer;
      const CertificateAndKey& ca =
          issue == Issue::kFromIssuer && issuer >= 0 ? seen.cas[static_cast<size_t>(issuer)]
                                                     : kept.back();
      auto issued = IssueServing(ca, serving.hosts, now - policy.backdate, policy.serving_validity);
      if (!issued.ok()) {
        return std::move(issued).error();
      }
      pair = std::move(*issued);
    }
    const json& secret = seen.serving_secrets[s];
    auto served_bundle =
        secret.is_null() ? Result<std::string>(std::string()) : SecretValue(secret, "ca.crt");
    if (issue != Issue::kNone || !served_bundle.ok() || *served_bundle != bundle) {
      Status written = WriteSecret(client_, ns, secret, serving.secret, "kubernetes.io/tls",
                                   {{"tls.crt", pair.cert_pem}, {"tls.key", pair.key_pem},
                                    {"ca.crt", bundle}});
      if (!written.ok()) {
        return written;
      }
    }
    if (serving.install) {
      if (Status installed = serving.install(pair); !installed.ok()) {
        return installed;
      }
    }
  }
  return OkStatus();
}

Result<RotationPlan> Certificates::Reconcile() {
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

std::chrono::milliseconds Certificates::ReconcileWhenDue(std::chrono::seconds resync,
                                                         std::chrono::seconds retry) {
  const auto now = clock_.Monotonic();
  if (now < next_) {
    return std::chrono::ceil<std::chrono::milliseconds>(next_ - now);
  }
  auto plan = Reconcile();
  if (!plan.ok()) {
    log::Warn("certificates: cannot reconcile; retrying", {{"error", plan.error().ToString()}});
    next_ = now + retry;
    return retry;
  }
  if (!plan->empty()) {
    log::Info("certificates", {{"step", plan->reason}});
  }
  next_ = now + resync;
  return resync;
}

}  // namespace agentbudget::certs
