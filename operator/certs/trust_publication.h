#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "kube/client.h"
#include "operator/certs/x509.h"

namespace agentbudget::certs {

// Where the operator publishes its CA bundle for those who verify one serving certificate,
// and whether they trust a CA yet (certificates.h). Each pass calls Observe() first, then
// Trusts() and Publish() with what it read. Not thread-safe.
class TrustPublication {
 public:
  virtual ~TrustPublication() = default;
  // Reads what is published. Fails with the API server's error.
  virtual Status Observe(kube::Client& client) = 0;
  // Whether every verifier trusts the CA `ca_pem` (canonical PEM, as SplitCertificates
  // returns it), described by `ca`, at `now`.
  virtual bool Trusts(const std::string& ca_pem, const CertificateInfo& ca,
                      TimePoint now) const = 0;
  // Publishes `bundle` (PEM CAs, oldest first) where what Observe() read differs. Fails with
  // the API server's error (a conflict is retried on the next pass).
  virtual Status Publish(kube::Client& client, const std::string& bundle) = 0;
};

// The caBundle of every webhook of the Mutating and Validating configurations named
// `configuration` (absent configurations are skipped). The API server reads a new
// caBundle at once, so a CA is trusted as soon as every caBundle carries it (and when there
// is no configuration: nothing verifies).
class WebhookCaBundles final : public TrustPublication {
 public:
  explicit WebhookCaBundles(std::string configuration) : configuration_(std::move(configuration)) {}
  Status Observe(kube::Client& client) override;
  bool Trusts(const std::string& ca_pem, const CertificateInfo& ca, TimePoint now) const override;
  Status Publish(kube::Client& client, const std::string& bundle) override;

 private:
  const std::string configuration_;
  // The configurations found, each with the resource it is of.
  std::vector<std::pair<const kube::GroupVersionResource*, nlohmann::json>> configurations_;
};

// ConfigMap `name` in `ns`, key `ca.crt`: the bundle the webhook injects into every meter it
// admits (AGENTBUDGET_AUTHORITY_CA). A running meter keeps the bundle it was admitted with,
// so a CA is trusted only once the ConfigMap carries it and it is at least `trust_delay`
// old (counted from its start): the meters admitted before it was published are assumed to
// have ended by then. Nothing is trusted while the ConfigMap is absent.
class CaConfigMap final : public TrustPublication {
 public:
  CaConfigMap(std::string ns, std::string name, std::chrono::seconds trust_delay)
      : namespace_(std::move(ns)), name_(std::move(name)), trust_delay_(trust_delay) {}
  Status Observe(kube::Client& client) override;
  bool Trusts(const std::string& ca_pem, const CertificateInfo& ca, TimePoint now) const override;
  Status Publish(kube::Client& client, const std::string& bundle) override;

  // The ConfigMap's key holding the bundle.
  static constexpr char kKey[] = "ca.crt";

 private:
  const std::string namespace_;
  const std::string name_;
  const std::chrono::seconds trust_delay_;
  nlohmann::json config_map_;  // null when absent
};

}  // namespace agentbudget::certs
