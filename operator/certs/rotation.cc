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
std::string WhyServingUnusable(const std::vector<CertificateInfo>& cas, const ServingInput& serving,
                               TimePoint now) {
  if (!serving.current) {
    return "no usable serving certificate";
  }
  if (serving.issuer < 0) {
    return "the serving certificate was not signed by a trusted CA";
  }
  if (now >= serving.current->not_after) {
    return "the serving certificate expired";
  }
  if (now >= cas[static_cast<size_t>(serving.issuer)].not_after) {
    return "the serving certificate's CA expired";
  }
  if (!SameHosts(serving.current->hosts, serving.hosts)) {
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

  // Retiring older CAs waits until every serving certificate comes from the newest CA and
  // has for the whole overlap, so every verifier trusts the change.
  bool settled = !plan.generate_ca;
  for (size_t s = 0; s < input.servings.size(); ++s) {
    const ServingInput& serving = input.servings[s];
    const std::string name = input.servings.size() > 1 ? " " + std::to_string(s) : "";
    Issue issue = Issue::kNone;
    const std::string unusable = WhyServingUnusable(input.cas, serving, now);
    const bool from_older_ca =
        serving.issuer >= 0 && static_cast<size_t>(serving.issuer) + 1 != count;
    if (!unusable.empty()) {
      // Nothing that works can break: issue at once (from the CA generated in this step, if any).
      issue = Issue::kFromNewestCa;
      explain(unusable + ": issuing serving certificate" + name);
    } else if (!plan.generate_ca && from_older_ca && serving.trusts_newest_ca) {
      issue = Issue::kFromNewestCa;
      explain("its verifiers trust the newest CA: moving serving certificate" + name + " to it");
    } else if (now >= serving.current->not_after - policy.serving_renew_before) {
      const bool move = !plan.generate_ca && serving.trusts_newest_ca;
      issue = move ? Issue::kFromNewestCa : Issue::kFromIssuer;
      explain("serving certificate" + name + " is in its renewal window: re-issuing it");
    }
    plan.issue.push_back(issue);
    settled = settled && issue == Issue::kNone && unusable.empty() && !from_older_ca &&
              now >= serving.current->not_before + policy.backdate + policy.overlap;
  }

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
