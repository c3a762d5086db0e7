#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "operator/certs/x509.h"

namespace agentbudget::certs {

// When the webhook's CA and serving certificate are issued, renewed and retired. Pure: no
// I/O, time passed in. A CA is renewed by appending a new one to the trust bundle; the
// serving certificate moves to the new CA only once every webhook configuration's caBundle
// carries it; the old CA leaves the bundle only `overlap` after that, so API servers and
// webhook replicas never disagree about trust (the kubelet takes up to a minute or two to
// update a Secret volume, the webhook then reloads its files).

struct RotationPolicy {
  std::chrono::seconds ca_validity = std::chrono::hours(24 * 365);
  std::chrono::seconds ca_renew_before = std::chrono::hours(24 * 90);
  std::chrono::seconds serving_validity = std::chrono::hours(24 * 90);
  std::chrono::seconds serving_renew_before = std::chrono::hours(24 * 30);
  std::chrono::seconds overlap = std::chrono::minutes(10);
  // New certificates start this long before "now", for clocks that lag ours.
  std::chrono::seconds backdate = std::chrono::minutes(5);
};

// What the rules see of the current state. A value type.
struct RotationInput {
  std::vector<CertificateInfo> cas;  // the CAs in the trust bundle, oldest first
  // The current serving certificate, unless missing or unusable (no key, key mismatch).
  std::optional<CertificateInfo> serving;
  // Index into `cas` of the CA that signed `serving`, or -1 (none of them).
  int serving_issuer = -1;
  // The hosts the serving certificate must name.
  std::vector<std::string> hosts;
  // Every webhook of the agentbudget configurations has the newest CA in its caBundle
  // (true when there are none yet: nothing can break).
  bool bundles_carry_newest_ca = false;
};

// One step. Applying it and observing again converges: at most one CA generation and one
// serving issue per step. A value type.
struct RotationPlan {
  bool generate_ca = false;      // append a new CA (it becomes the newest)
  std::vector<size_t> drop_cas;  // indices into RotationInput::cas to remove, ascending
  bool issue_serving = false;    // issue a serving certificate from the newest CA
  std::string reason;            // what is done and why, for the log; "" when nothing
  bool empty() const { return !generate_ca && drop_cas.empty() && !issue_serving; }
};

RotationPlan PlanRotation(const RotationInput& input, TimePoint now,
                          const RotationPolicy& policy);

}  // namespace agentbudget::certs
