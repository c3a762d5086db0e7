#include "core/run_envelope.h"

#include <gtest/gtest.h>

namespace agentbudget::core {
namespace {

Money Usd(int64_t micros) { return Money::FromMicros(micros); }

TEST(RunEnvelopeTest, AllowsCallsWithinEveryCeiling) {
  RunEnvelope envelope({Usd(1'000'000), 10'000, 5, 2});
  const EnvelopeDecision decision = envelope.Reserve(1, Usd(100), 100);
  EXPECT_TRUE(decision.allowed);
  EXPECT_EQ(envelope.totals().requests, 1);
  EXPECT_EQ(envelope.totals().reserved, Usd(100));
}

TEST(RunEnvelopeTest, DeniesTheRequestAfterMaxRequestsNamingTheCeiling) {
  RunEnvelope envelope({std::nullopt, std::nullopt, 2, std::nullopt});
  EXPECT_TRUE(envelope.Reserve(1, Usd(0), 0).allowed);
  EXPECT_TRUE(envelope.Reserve(2, Usd(0), 0).allowed);
  const EnvelopeDecision third = envelope.Reserve(3, Usd(0), 0);
  EXPECT_FALSE(third.allowed);
  EXPECT_EQ(third.reason, "run ceiling maxRequests (2) reached: 2 requests made");
  EXPECT_EQ(third.ceiling, "maxRequests");
  EXPECT_FALSE(StopsRun(third.ceiling));
}

TEST(RunEnvelopeTest, ACallReleasedUnsentNoLongerCountsTowardsMaxRequests) {
  RunEnvelope envelope({std::nullopt, std::nullopt, 1, std::nullopt});
  ASSERT_TRUE(envelope.Reserve(1, Usd(50), 10).allowed);
  envelope.ReleaseUnsent(Usd(50), 10);
  EXPECT_EQ(envelope.totals().requests, 0);
  EXPECT_EQ(envelope.totals().reserved, Usd(0));
  ASSERT_TRUE(envelope.Reserve(1, Usd(50), 10).allowed);
  envelope.Release(Usd(50), 10);  // sent, then abandoned: it still counts
  EXPECT_FALSE(envelope.Reserve(1, Usd(50), 10).allowed);
}

TEST(RunEnvelopeTest, RetryLoopGuardDeniesOnlyTheRepeatedRequest) {
  RunEnvelope envelope({std::nullopt, std::nullopt, std::nullopt, 2});
  EXPECT_TRUE(envelope.Reserve(7, Usd(0), 0).allowed);
  EXPECT_TRUE(envelope.Reserve(7, Usd(0), 0).allowed);
  const EnvelopeDecision third = envelope.Reserve(7, Usd(0), 0);
  EXPECT_FALSE(third.allowed);
  EXPECT_NE(third.reason.find("maxIdenticalRequests (2)"), std::string::npos);
  EXPECT_EQ(third.ceiling, "maxIdenticalRequests");
  EXPECT_TRUE(envelope.Reserve(8, Usd(0), 0).allowed);
}

TEST(RunEnvelopeTest, DeniesWhenSpentPlusInFlightPlusEstimatePassesMaxCost) {
  RunEnvelope envelope({Usd(1'000), std::nullopt, std::nullopt, std::nullopt});
  ASSERT_TRUE(envelope.Reserve(1, Usd(400), 0).allowed);
  envelope.Commit(Usd(400), 0, Usd(700), 0);
  EXPECT_EQ(envelope.totals().spent, Usd(700));
  EXPECT_EQ(envelope.totals().reserved, Usd(0));
  const EnvelopeDecision denied = envelope.Reserve(2, Usd(301), 0);
  EXPECT_FALSE(denied.allowed);
  EXPECT_NE(denied.reason.find("run ceiling maxCost ($0.001) reached: spent $0.0007"),
            std::string::npos)
      << denied.reason;
  EXPECT_EQ(denied.ceiling, "maxCost");
  EXPECT_TRUE(StopsRun(denied.ceiling));
  EXPECT_TRUE(envelope.Reserve(3, Usd(300), 0).allowed);
}

TEST(RunEnvelopeTest, DeniesWhenTokensWouldPassMaxTokens) {
  RunEnvelope envelope({std::nullopt, 100, std::nullopt, std::nullopt});
  ASSERT_TRUE(envelope.Reserve(1, Usd(0), 60).allowed);
  envelope.Commit(Usd(0), 60, Usd(0), 90);
  const EnvelopeDecision denied = envelope.Reserve(2, Usd(0), 11);
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.ceiling, "maxTokens");
  EXPECT_TRUE(StopsRun(denied.ceiling));
}

TEST(RunEnvelopeTest, ReleaseReturnsTheEstimateButKeepsTheRequestCounted) {
  RunEnvelope envelope({Usd(100), std::nullopt, std::nullopt, std::nullopt});
  ASSERT_TRUE(envelope.Reserve(1, Usd(100), 0).allowed);
  EXPECT_FALSE(envelope.Reserve(2, Usd(1), 0).allowed);
  envelope.Release(Usd(100), 0);
  EXPECT_TRUE(envelope.Reserve(2, Usd(1), 0).allowed);
  EXPECT_EQ(envelope.totals().requests, 2);
}

TEST(RunEnvelopeTest, FingerprintIsStableAndDistinguishesBodies) {
  EXPECT_EQ(Fingerprint("abc"), Fingerprint("abc"));
  EXPECT_NE(Fingerprint("abc"), Fingerprint("abd"));
  EXPECT_EQ(Fingerprint(""), 14695981039346656037ULL);
}

TEST(RunEnvelopeTest, TenThousandDistinctCallsKeepTheGuardBoundedAndStillCatchALoop) {
  RunEnvelope envelope({std::nullopt, std::nullopt, std::nullopt, 3});
  for (uint64_t call = 0; call < 10'000; ++call) {
    ASSERT_TRUE(envelope.Reserve(Fingerprint("body " + std::to_string(call)), Usd(0), 0).allowed);
    EXPECT_LE(envelope.fingerprints(), RunEnvelope::kMaxFingerprints);
  }
  EXPECT_EQ(envelope.fingerprints(), RunEnvelope::kMaxFingerprints);
  EXPECT_EQ(envelope.totals().requests, 10'000);
  // A loop on a recent body is still denied after its third call.
  const uint64_t looping = Fingerprint("body 9999");
  EXPECT_TRUE(envelope.Reserve(looping, Usd(0), 0).allowed);
  EXPECT_TRUE(envelope.Reserve(looping, Usd(0), 0).allowed);
  EXPECT_FALSE(envelope.Reserve(looping, Usd(0), 0).allowed);
}

TEST(RunEnvelopeTest, WithoutARetryGuardNoFingerprintIsKept) {
  RunEnvelope envelope({std::nullopt, std::nullopt, std::nullopt, std::nullopt});
  for (uint64_t call = 0; call < 10'000; ++call) {
    ASSERT_TRUE(envelope.Reserve(Fingerprint("body " + std::to_string(call)), Usd(0), 0).allowed);
  }
  EXPECT_EQ(envelope.fingerprints(), 0U);
}

}  // namespace
}  // namespace agentbudget::core
