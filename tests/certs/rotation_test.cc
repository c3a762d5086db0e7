#include "operator/certs/rotation.h"

#include <gtest/gtest.h>

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
    input.serving = Serving(kNow - hours(24), policy_.serving_validity);
    input.serving_issuer = 0;
    input.hosts = kHosts;
    input.bundles_carry_newest_ca = true;
    return input;
  }
  RotationPolicy policy_;
};

TEST_F(RotationTest, NothingYetGeneratesACaAndIssuesAServingCertificate) {
  RotationInput input;
  input.hosts = kHosts;
  const RotationPlan plan = PlanRotation(input, kNow, policy_);
  EXPECT_TRUE(plan.generate_ca);
  EXPECT_TRUE(plan.issue_serving);
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
  input.serving = Serving(later - hours(1), policy_.serving_validity);
  const RotationPlan plan = PlanRotation(input, later, policy_);
  EXPECT_TRUE(plan.generate_ca);
  EXPECT_FALSE(plan.issue_serving);
  EXPECT_TRUE(plan.drop_cas.empty());
}

TEST_F(RotationTest, ServingStaysOnTheOldCaUntilEveryBundleCarriesTheNewOne) {
  RotationInput input = Healthy();
  input.cas.push_back(Ca(kNow, policy_.ca_validity));
  input.bundles_carry_newest_ca = false;
  EXPECT_TRUE(PlanRotation(input, kNow, policy_).empty());

  input.bundles_carry_newest_ca = true;
  const RotationPlan plan = PlanRotation(input, kNow, policy_);
  EXPECT_TRUE(plan.issue_serving);
  EXPECT_FALSE(plan.generate_ca);
  EXPECT_TRUE(plan.drop_cas.empty()) << "the old CA must outlive the move by the overlap";
}

TEST_F(RotationTest, OldCaLeavesOnlyAfterTheOverlap) {
  RotationInput input = Healthy();
  input.cas.push_back(Ca(kNow - hours(2), policy_.ca_validity));
  input.serving = Serving(kNow - policy_.backdate, policy_.serving_validity);
  input.serving_issuer = 1;
  EXPECT_TRUE(PlanRotation(input, kNow, policy_).empty());
  EXPECT_TRUE(PlanRotation(input, kNow + policy_.overlap - minutes(1), policy_).empty());

  const RotationPlan plan = PlanRotation(input, kNow + policy_.overlap, policy_);
  EXPECT_EQ(plan.drop_cas, std::vector<size_t>{0});
  EXPECT_FALSE(plan.issue_serving);
}

TEST_F(RotationTest, ServingCertificateInItsRenewalWindowIsReissued) {
  RotationInput input = Healthy();
  const TimePoint later = input.serving->not_after - policy_.serving_renew_before;
  const RotationPlan plan = PlanRotation(input, later, policy_);
  EXPECT_TRUE(plan.issue_serving);
  EXPECT_FALSE(plan.generate_ca);
}

TEST_F(RotationTest, BrokenServingCertificateIsReissuedAtOnceWhateverTheBundles) {
  for (int variant = 0; variant < 4; ++variant) {
    RotationInput input = Healthy();
    input.bundles_carry_newest_ca = false;
    TimePoint now = kNow;
    if (variant == 0) {
      input.serving.reset();
    } else if (variant == 1) {
      input.serving_issuer = -1;
    } else if (variant == 2) {
      now = input.serving->not_after;
    } else {
      input.hosts.push_back("new.host");
    }
    EXPECT_TRUE(PlanRotation(input, now, policy_).issue_serving) << "variant " << variant;
  }
}

TEST_F(RotationTest, ExpiredCaIsDroppedAndReplaced) {
  RotationInput input = Healthy();
  const TimePoint later = input.cas[0].not_after;
  const RotationPlan plan = PlanRotation(input, later, policy_);
  EXPECT_TRUE(plan.generate_ca);
  EXPECT_TRUE(plan.issue_serving);
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
    input.hosts = kHosts;
    for (const Issued& ca : cas) {
      input.cas.push_back(ca.info);
    }
    if (serving) {
      input.serving = serving->info;
      for (size_t i = 0; i < cas.size(); ++i) {
        if (cas[i].id == serving->id) {
          input.serving_issuer = static_cast<int>(i);
        }
      }
    }
    input.bundles_carry_newest_ca = !cas.empty();  // the previous step patched the bundles
    const std::vector<Issued> bundle_before = cas;
    const RotationPlan plan = PlanRotation(input, now, policy_);
    for (auto drop = plan.drop_cas.rbegin(); drop != plan.drop_cas.rend(); ++drop) {
      cas.erase(cas.begin() + static_cast<std::ptrdiff_t>(*drop));
    }
    if (plan.generate_ca) {
      cas.push_back({Ca(now - policy_.backdate, policy_.ca_validity), next_id++});
      ++ca_generations;
    }
    if (plan.issue_serving) {
      serving = Issued{Serving(now - policy_.backdate, policy_.serving_validity), cas.back().id};
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

}  // namespace
}  // namespace agentbudget::certs
