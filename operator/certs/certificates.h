#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "kube/client.h"
#include "operator/certs/rotation.h"
#include "operator/certs/trust_publication.h"

namespace agentbudget::certs {

// Keeps the operator's TLS in order on a cluster (docs/operations.md): one CA (certificates
// and keys) in a Secret only the operator reads, and serving certificates it signs, each in
// a kubernetes.io/tls Secret (tls.crt, tls.key, ca.crt) and trusted through its own
// publication of the CA bundle (the webhook: the caBundles of its configurations; the
// budget authority: a ConfigMap the webhook injects into meters). Each Reconcile()
// observes everything, plans one step with PlanRotation and applies it in the order that
// never breaks trust: CA Secret, then publications, then serving Secrets.
//
// Run it on the leader only: two writers would race (their writes are conditional on the
// resourceVersion they read, so a race costs a retry, never a lost CA). Not thread-safe.
class Certificates {
 public:
  // One serving certificate.
  struct Serving {
    std::string secret;              // its kubernetes.io/tls Secret, in the namespace
    std::vector<std::string> hosts;  // the names it carries; REQUIRES: not empty
    std::unique_ptr<TrustPublication> publication;  // REQUIRES: not null
    // Called after every successful pass with the certificate and key in force (new or
    // not), e.g. to write them where a listener reads them; may be empty. Its failure
    // fails the pass.
    std::function<Status(const CertificateAndKey&)> install;
  };
  struct Options {
    std::string namespace_name = "agentbudget-system";
    // Named for its first use; the authority's certificate comes from the same CA.
    std::string ca_secret = "agentbudget-webhook-ca";
    std::vector<Serving> servings;
    RotationPolicy policy;
  };

  Certificates(kube::Client& client, const Clock& clock, Options options);

  // The names of Service `service` in `ns`: service, service.ns, service.ns.svc and
  // service.ns.svc.cluster.local, then `extra` (DNS names or IPs).
  static std::vector<std::string> ServiceHosts(const std::string& service, const std::string& ns,
                                               const std::vector<std::string>& extra);

  // One observe-plan-apply step. Returns the plan it applied (empty when all is in order).
  // Fails, having applied a prefix of the step, when the API server or an install does
  // (retry later: the next step re-observes), or with kInvalidArgument when the CA Secret
  // does not parse (an operator must delete it to start a new CA).
  Result<RotationPlan> Reconcile();

  // Reconciles when due: at once, then every `resync` after a success, `retry` after a
  // failure. Logs what it did. Returns the time until it is due again (for periodic work).
  std::chrono::milliseconds ReconcileWhenDue(std::chrono::seconds resync,
                                             std::chrono::seconds retry);

 private:
  struct Observed;
  Result<Observed> Observe();
  Status Apply(const RotationPlan& plan, Observed& seen, TimePoint now);

  kube::Client& client_;
  const Clock& clock_;
  Options options_;  // the publications remember what they observed
  std::chrono::steady_clock::time_point next_{};
};

}  // namespace agentbudget::certs
