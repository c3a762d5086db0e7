#include "operator/certs/rotation.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace agentbudget::certs {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

const TimePoint kNow = std::chrono::system_clock::from_time_t(1798761600);  // 2027-01-01
const std::vector<std::string> kHosts = {"agentbudget-webhook.ns.svc", "127.0.0.1"};

CertificateInfo Ca(TimePoint not_before, std::chrono::seconds validity) {
  return {"ca", "ca", not_before, not_before + validity, true, {}};
}
CertificateInfo Serving(TimePoint not_before, std::chrono::seconds validity) {
  return {kHosts[0], "ca", not_before, not_before + validity, false, kHosts};
}

class RotationTest : public ::testing::Test {
 protected:
  // One CA and a serving certificate from it, both issued a day ago, trusted everywhere.
  RotationInput Healthy() const {
    RotationInput input;
    input.cas = {Ca(kNow - hours(24), policy_.ca_validity)};
    input.servings = {ServingInput{Serving(kNow - hours(24), policy_.serving_validity), 0,
                                   kHosts, true}};
    return input;
  }
  RotationPolicy policy_;
};

TEST_F(RotationTest, NothingYetGeneratesACaAndIssuesAServingCertificate) {
  RotationInput input;
  input.servings = {ServingInput{std::nullopt, -1, kHosts, false}};
  const RotationPlan plan = PlanRotation(input, kNow, policy_);
  EXPECT_TRUE(plan.generate_ca);
  EXPECT_EQ(plan.issue, std::vector<Issue>{Issue::kFromNewestCa});
  EXPECT_TRUE(plan.drop_cas.empty());
  EXPECT_FALSE(plan.reason.empty());
}

TEST_F(RotationTest, HealthyStateNeedsNothing) {
  const RotationPlan plan = PlanRotation(Healthy(), kNow, policy_);
  EXPECT_TRUE(plan.empty()) << plan.reason;
  EXPECT_EQ(plan.reason, "");
}

TEST_F(RotationTest, CaInItsRenewalWindowGetsASuccessorAndKeepsServing) {
  RotationInput input = Healthy();
  const TimePoint later = input.cas[0].not_after - policy_.ca_renew_before + minutes(1);
  input.servings[0].current = Serving(later - hours(1), policy_.serving_validity);
  const RotationPlan plan = PlanRotation(input, later, policy_);
  EXPECT_TRUE(plan.generate_ca);
  EXPECT_EQ(plan.issue, std::vector<Issue>{Issue::kNone});
  EXPECT_TRUE(plan.drop_cas.empty());
}

TEST_F(RotationTest, ServingStaysOnTheOldCaUntilItsVerifiersTrustTheNewOne) {
  RotationInput input = Healthy();
  input.cas.push_back(Ca(kNow, policy_.ca_validity));
  input.servings[0].trusts_newest_ca = false;
  EXPECT_TRUE(PlanRotation(input, kNow, policy_).empty());

  input.servings[0].trusts_newest_ca = true;
  const RotationPlan plan = PlanRotation(input, kNow, policy_);
  EXPECT_EQ(plan.issue, std::vector<Issue>{Issue::kFromNewestCa});
  EXPECT_FALSE(plan.generate_ca);
  EXPECT_TRUE(plan.drop_cas.empty()) << "the old CA must outlive the move by the overlap";
}

TEST_F(RotationTest, OldCaLeavesOnlyAfterTheOverlap) {
  RotationInput input = Healthy();
  input.cas.push_back(Ca(kNow - hours(2), policy_.ca_validity));
  input.servings[0].current = Serving(kNow - policy_.backdate, policy_.serving_validity);
  input.servings[0].issuer = 1;
  EXPECT_TRUE(PlanRotation(input, kNow, policy_).empty());
  EXPECT_TRUE(PlanRotation(input, kNow + policy_.overlap - minutes(1), policy_).empty());

  const RotationPlan plan = PlanRotation(input, kNow + policy_.overlap, policy_);
  EXPECT_EQ(plan.drop_cas, std::vector<size_t>{0});
  EXPECT_EQ(plan.issue, std::vector<Issue>{Issue::kNone});
}

// Two serving certificates share the CA: the old CA stays while either still comes from it.
TEST_F(RotationTest, OldCaStaysUntilEveryServingCertificateHasMoved) {
  RotationInput input = Healthy();
  input.cas.push_back(Ca(kNow - hours(2), policy_.ca_validity));
  input.servings[0].current = Serving(kNow - hours(1), policy_.serving_validity);
  input.servings[0].issuer = 1;
  input.servings.push_back(
      ServingInput{Serving(kNow - hours(24), policy_.serving_validity), 0, kHosts, false});
  const TimePoint later = kNow + hours(24);
  EXPECT_TRUE(PlanRotation(input, later, policy_).empty());

  input.servings[1].trusts_newest_ca = true;
  RotationPlan plan = PlanRotation(input, later, policy_);
  EXPECT_EQ(plan.issue, (std::vector<Issue>{Issue::kNone, Issue::kFromNewestCa}));
  EXPECT_TRUE(plan.drop_cas.empty());

  input.servings[1].current = Serving(later - policy_.backdate, policy_.serving_validity);
  input.servings[1].issuer = 1;
  plan = PlanRotation(input, later + policy_.overlap, policy_);
  EXPECT_EQ(plan.drop_cas, std::vector<size_t>{0});
}

// A serving certificate whose verifiers do not trust the newest CA yet is renewed from the
// CA that signed it.
TEST_F(RotationTest, RenewalBeforeTheNewestCaIsTrustedComesFromTheOldCa) {
  RotationInput input = Healthy();
  input.cas.push_back(Ca(kNow, policy_.ca_validity));
  input.servings[0].trusts_newest_ca = false;
  const TimePoint later = input.servings[0].current->not_after - policy_.serving_renew_before;
  EXPECT_EQ(PlanRotation(input, later, policy_).issue, std::vector<Issue>{Issue::kFromIssuer});
}

TEST_F(RotationTest, ServingCertificateInItsRenewalWindowIsReissued) {
  RotationInput input = Healthy();
  const TimePoint later = input.servings[0].current->not_after - policy_.serving_renew_before;
  const RotationPlan plan = PlanRotation(input, later, policy_);
  EXPECT_EQ(plan.issue, std::vector<Issue>{Issue::kFromNewestCa});
  EXPECT_FALSE(plan.generate_ca);
}

TEST_F(RotationTest, BrokenServingCertificateIsReissuedAtOnceWhateverTheBundles) {
  for (int variant = 0; variant < 4; ++variant) {
    RotationInput input = Healthy();
    ServingInput& serving = input.servings[0];
    serving.trusts_newest_ca = false;
    TimePoint now = kNow;
    if (variant == 0) {
      serving.current.reset();
    } else if (variant == 1) {
      serving.issuer = -1;
    } else if (variant == 2) {
      now = serving.current->not_after;
    } else {
      serving.hosts.push_back("new.host");
    }
    EXPECT_EQ(PlanRotation(input, now, policy_).issue, std::vector<Issue>{Issue::kFromNewestCa})
        << "variant " << variant;
  }
}

TEST_F(RotationTest, ExpiredCaIsDroppedAndReplaced) {
  RotationInput input = Healthy();
  const TimePoint later = input.cas[0].not_after;
  const RotationPlan plan = PlanRotation(input, later, policy_);
  EXPECT_TRUE(plan.generate_ca);
  EXPECT_EQ(plan.issue, std::vector<Issue>{Issue::kFromNewestCa});
  EXPECT_EQ(plan.drop_cas, std::vector<size_t>{0});
}

// Three years of hourly steps, applying each plan as the reconciler does (CA Secret, then
// caBundles, then the serving certificate): the serving certificate is always valid, always
// trusted by the bundle the API server had before the step, and at most two CAs coexist.
TEST_F(RotationTest, RotationOverYearsNeverServesAnUntrustedCertificate) {
  struct Issued {
    CertificateInfo info;
    int id;
  };
  std::vector<Issued> cas;
  std::optional<Issued> serving;
  int next_id = 0;
  int ca_generations = 0;
  int serving_issues = 0;
  const TimePoint end = kNow + hours(24 * 365 * 3);
  for (TimePoint now = kNow; now < end; now += hours(1)) {
    RotationInput input;
    ServingInput current{std::nullopt, -1, kHosts, !cas.empty()};  // the previous step
                                                                    // patched the bundles
    for (const Issued& ca : cas) {
      input.cas.push_back(ca.info);
    }
    if (serving) {
      current.current = serving->info;
      for (size_t i = 0; i < cas.size(); ++i) {
        if (cas[i].id == serving->id) {
          current.issuer = static_cast<int>(i);
        }
      }
    }
    input.servings = {current};
    const std::vector<Issued> bundle_before = cas;
    const RotationPlan plan = PlanRotation(input, now, policy_);
    for (auto drop = plan.drop_cas.rbegin(); drop != plan.drop_cas.rend(); ++drop) {
      cas.erase(cas.begin() + static_cast<std::ptrdiff_t>(*drop));
    }
    if (plan.generate_ca) {
      cas.push_back({Ca(now - policy_.backdate, policy_.ca_validity), next_id++});
      ++ca_generations;
    }
    if (plan.issue[0] != Issue::kNone) {
      const int from = plan.issue[0] == Issue::kFromIssuer ? serving->id : cas.back().id;
      serving = Issued{Serving(now - policy_.backdate, policy_.serving_validity), from};
      ++serving_issues;
    }
    ASSERT_TRUE(serving.has_value());
    ASSERT_LT(now, serving->info.not_after);
    ASSERT_LE(cas.size(), 2u);
    bool trusted_now = false;
    for (const Issued& ca : cas) {
      trusted_now = trusted_now || ca.id == serving->id;
    }
    ASSERT_TRUE(trusted_now) << "the serving certificate's CA left the bundle";
    if (now > kNow) {
      bool trusted_before = false;
      for (const Issued& ca : bundle_before) {
        trusted_before = trusted_before || ca.id == serving->id;
      }
      ASSERT_TRUE(trusted_before) << "served from a CA the API server did not trust yet";
    }
  }
  EXPECT_GE(ca_generations, 4);  // one at start, then about one every 275 days
  EXPECT_GE(serving_issues, 3 * 365 / 60);
}

// The authority's certificate over three years of hourly steps: meters keep the bundle they
// were admitted with, and its verifiers trust a CA once it has been published for the trust
// delay. Every meter admitted less than the trust delay ago can verify the certificate.
TEST_F(RotationTest, EveryMeterYoungerThanTheTrustDelayTrustsTheAuthority) {
  const std::chrono::seconds trust_delay = hours(24 * 30);
  struct Issued {
    CertificateInfo info;
    int id;
  };
  std::vector<Issued> cas;
  std::optional<Issued> serving;
  // Meters admitted at each step: when, and the CA ids of the bundle they were given.
  std::vector<std::pair<TimePoint, std::vector<int>>> meters;
  int next_id = 0;
  int moves = 0;
  const TimePoint end = kNow + hours(24 * 365 * 3);
  for (TimePoint now = kNow; now < end; now += hours(1)) {
    RotationInput input;
    ServingInput current{std::nullopt, -1, kHosts, false};
    for (const Issued& ca : cas) {
      input.cas.push_back(ca.info);
    }
    current.trusts_newest_ca = !cas.empty() && now >= cas.back().info.not_before + trust_delay;
    if (serving) {
      current.current = serving->info;
      for (size_t i = 0; i < cas.size(); ++i) {
        if (cas[i].id == serving->id) {
          current.issuer = static_cast<int>(i);
        }
      }
    }
    input.servings = {current};
    const RotationPlan plan = PlanRotation(input, now, policy_);
    for (auto drop = plan.drop_cas.rbegin(); drop != plan.drop_cas.rend(); ++drop) {
      cas.erase(cas.begin() + static_cast<std::ptrdiff_t>(*drop));
    }
    if (plan.generate_ca) {
      cas.push_back({Ca(now - policy_.backdate, policy_.ca_validity), next_id++});
    }
    if (plan.issue[0] != Issue::kNone) {
      const int from = plan.issue[0] == Issue::kFromIssuer ? serving->id : cas.back().id;
      moves += serving && from != serving->id ? 1 : 0;
      serving = Issued{Serving(now - policy_.backdate, policy_.serving_validity), from};
    }
    std::vector<int> bundle;
    for (const Issued& ca : cas) {
      bundle.push_back(ca.id);
    }
    meters.emplace_back(now, bundle);
    for (const auto& [admitted, trusted] : meters) {
      if (now - admitted < trust_delay) {
        ASSERT_NE(std::find(trusted.begin(), trusted.end(), serving->id), trusted.end())
            << "a meter admitted " << std::chrono::duration_cast<hours>(now - admitted).count()
            << " h ago cannot verify the authority";
      }
    }
    while (!meters.empty() && now - meters.front().first >= trust_delay) {
      meters.erase(meters.begin());
    }
  }
  EXPECT_GE(moves, 2);  // it did move to renewed CAs
}

}  // namespace
}  // namespace agentbudget::certs
