#include "operator/certs/rotation.h"

#include <algorithm>

namespace agentbudget::certs {
namespace {

bool SameHosts(std::vector<std::string> a, std::vector<std::string> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

// Why the serving certificate cannot be kept for even one more step, or "".
std::string WhyServingUnusable(const RotationInput& input, TimePoint now) {
  if (!input.serving) {
    return "no usable serving certificate";
  }
  if (input.serving_issuer < 0) {
    return "the serving certificate was not signed by a trusted CA";
  }
  if (now >= input.serving->not_after) {
    return "the serving certificate expired";
  }
  if (now >= input.cas[static_cast<size_t>(input.serving_issuer)].not_after) {
    return "the serving certificate's CA expired";
  }
  if (!SameHosts(input.serving->hosts, input.hosts)) {
    return "the serving certificate names other hosts";
  }
  return "";
}

}  // namespace

RotationPlan PlanRotation(const RotationInput& input, TimePoint now,
                          const RotationPolicy& policy) {
  RotationPlan plan;
  auto explain = [&plan](const std::string& why) {
    plan.reason += (plan.reason.empty() ? "" : "; ") + why;
  };
  const size_t count = input.cas.size();
  if (count == 0) {
    plan.generate_ca = true;
    explain("no CA: generating one");
  } else if (now >= input.cas.back().not_after - policy.ca_renew_before) {
    plan.generate_ca = true;
    explain("the newest CA expires at or before its renewal window: appending a new CA");
  }

  const std::string unusable = WhyServingUnusable(input, now);
  const bool serving_from_older_ca =
      input.serving_issuer >= 0 && static_cast<size_t>(input.serving_issuer) + 1 != count;
  if (!unusable.empty()) {
    // Nothing that works can break: issue at once (from the CA generated in this step, if any).
    plan.issue_serving = true;
    explain(unusable + ": issuing a serving certificate");
  } else if ((serving_from_older_ca || now >= input.serving->not_after - policy.serving_renew_before) &&
             !plan.generate_ca) {
    if (input.bundles_carry_newest_ca) {
      plan.issue_serving = true;
      explain(serving_from_older_ca
                  ? "every caBundle carries the newest CA: moving the serving certificate to it"
                  : "the serving certificate is in its renewal window: re-issuing it");
    }
  }

  // Retire CAs: expired ones always; older ones once the serving certificate has come from
  // the newest CA for the whole overlap, so every replica and API server trusts the change.
  const bool settled = !plan.generate_ca && !plan.issue_serving && unusable.empty() &&
                       !serving_from_older_ca &&
                       now >= input.serving->not_before + policy.backdate + policy.overlap;
  for (size_t i = 0; i < count; ++i) {
    if (now >= input.cas[i].not_after) {
      plan.drop_cas.push_back(i);
      explain("CA " + std::to_string(i) + " expired: removing it");
    } else if (settled && i + 1 < count) {
      plan.drop_cas.push_back(i);
      explain("CA " + std::to_string(i) + " is superseded and the overlap has passed: removing it");
    }
  }
  return plan;
}

}  // namespace agentbudget::certs
