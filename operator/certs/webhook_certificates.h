#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "kube/client.h"
#include "operator/certs/rotation.h"

namespace agentbudget::certs {

// Keeps the webhook's TLS in order on a cluster (docs/operations.md): the CA (certificates and
// keys) in one Secret only the operator reads, the serving certificate in a
// kubernetes.io/tls Secret the webhook Pods mount (tls.crt, tls.key, ca.crt), and the CA
// bundle in the caBundle of every webhook of the Mutating and Validating configurations
// named `configuration`. Each Reconcile() observes all three, plans one step with
// PlanRotation and applies it in the order that never breaks trust: CA Secret, then
// caBundles, then the serving Secret.
//
// Run it on the leader only: two writers would race (their writes are conditional on the
// resourceVersion they read, so a race costs a retry, never a lost CA). Not thread-safe.
class WebhookCertificates {
 public:
  struct Options {
    std::string namespace_name = "agentbudget-system";
    std::string ca_secret = "agentbudget-webhook-ca";
    std::string serving_secret = "agentbudget-webhook-tls";
    std::string configuration = "agentbudget";
    std::vector<std::string> hosts;  // the serving certificate's names; REQUIRES: not empty
    RotationPolicy policy;
  };

  WebhookCertificates(kube::Client& client, const Clock& clock, Options options);

  // The serving certificate's names for Service `service` in `ns`: service, service.ns,
  // service.ns.svc and service.ns.svc.cluster.local, then `extra` (DNS names or IPs).
  static std::vector<std::string> ServiceHosts(const std::string& service, const std::string& ns,
                                               const std::vector<std::string>& extra);

  // One observe-plan-apply step. Returns the plan it applied (empty when all is in order).
  // Fails, having applied a prefix of the step, when the API server does (retry later:
  // the next step re-observes), or with kInvalidArgument when the CA Secret does not parse
  // (an operator must delete it to start a new CA).
  Result<RotationPlan> Reconcile();

  // Reconciles when due: at once, then every `resync` after a success, `retry` after a
  // failure. Logs what it did. Returns the time until it is due again (for periodic work).
  std::chrono::milliseconds ReconcileWhenDue(std::chrono::seconds resync,
                                             std::chrono::seconds retry);

 private:
  struct Observed;
  Result<Observed> Observe() const;
  Status Apply(const RotationPlan& plan, Observed& seen, TimePoint now);

  kube::Client& client_;
  const Clock& clock_;
  const Options options_;
  std::chrono::steady_clock::time_point next_{};
};

}  // namespace agentbudget::certs
