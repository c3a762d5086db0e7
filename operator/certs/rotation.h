#pragma once

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "operator/certs/x509.h"

namespace agentbudget::certs {

// When the operator's CA and the serving certificates it issues are generated, renewed and
// retired. Pure: no I/O, time passed in. A CA is renewed by appending a new one to the
// trust bundle; a serving certificate moves to the new CA only once everyone who verifies
// it trusts that CA (the webhook: every webhook configuration's caBundle carries it; the
// authority: meters admitted since it was published have replaced the older ones); an old
// CA leaves the bundle only once every serving certificate has come from the newest CA for
// `overlap`, so verifiers and servers never disagree about trust (the kubelet takes up to a
// minute or two to update a Secret volume, servers then reload their files).

struct RotationPolicy {
  std::chrono::seconds ca_validity = std::chrono::hours(24 * 365);
  std::chrono::seconds ca_renew_before = std::chrono::hours(24 * 90);
  std::chrono::seconds serving_validity = std::chrono::hours(24 * 90);
  std::chrono::seconds serving_renew_before = std::chrono::hours(24 * 30);
  std::chrono::seconds overlap = std::chrono::minutes(10);
  // New certificates start this long before "now", for clocks that lag ours.
  std::chrono::seconds backdate = std::chrono::minutes(5);
};

// One serving certificate as the rules see it. A value type.
struct ServingInput {
  // The current certificate, unless missing or unusable (no key, key mismatch).
  std::optional<CertificateInfo> current;
  // Index into RotationInput::cas of the CA that signed `current`, or -1 (none of them).
  int issuer = -1;
  // The hosts the certificate must name.
  std::vector<std::string> hosts;
  // Everyone who verifies this certificate trusts the newest CA (true when nothing is
  // published yet: nothing can break).
  bool trusts_newest_ca = false;
};

// What the rules see of the current state. A value type.
struct RotationInput {
  std::vector<CertificateInfo> cas;  // the CAs in the trust bundle, oldest first
  std::vector<ServingInput> servings;
};

// How a serving certificate is (re-)issued in a step.
enum class Issue {
  kNone,
  kFromNewestCa,  // from the newest CA (after this step's generation, if any)
  kFromIssuer,    // again from the CA that signed the current one (renewal while its
                  // verifiers do not trust the newest CA yet)
};

// One step. Applying it and observing again converges: at most one CA generation and one
// issue per serving certificate per step. A value type.
struct RotationPlan {
  bool generate_ca = false;      // append a new CA (it becomes the newest)
  std::vector<size_t> drop_cas;  // indices into RotationInput::cas to remove, ascending
  std::vector<Issue> issue;      // per RotationInput::servings entry, in order
  std::string reason;            // what is done and why, for the log; "" when nothing
  bool empty() const {
    return !generate_ca && drop_cas.empty() &&
           std::all_of(issue.begin(), issue.end(), [](Issue i) { return i == Issue::kNone; });
  }
};

RotationPlan PlanRotation(const RotationInput& input, TimePoint now,
                          const RotationPolicy& policy);

}  // namespace agentbudget::certs
