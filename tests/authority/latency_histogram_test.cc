#include "bench/authority/latency_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace agentbudget::authority {
namespace {

// The percentile the benchmark printed before: element floor(p * n) of the sorted values.
double ExactPercentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size())))];
}

TEST(LatencyHistogramTest, PercentilesAreWithinAQuarterPercentOfTheExactOnes) {
  // Latencies spread over five orders of magnitude, as reserve (µs) and commit (s) are.
  std::mt19937_64 random(7);
  std::lognormal_distribution<double> latency(0.0, 3.0);
  LatencyHistogram histogram;
  std::vector<double> values;
  for (int i = 0; i < 200'000; ++i) {
    const double ms = latency(random);
    values.push_back(ms);
    histogram.Record(ms);
  }
  for (double p : {0.01, 0.5, 0.9, 0.99, 0.999}) {
    const double exact = ExactPercentile(values, p);
    if (exact < LatencyHistogram::kMinMs || exact > LatencyHistogram::kMaxMs) {
      continue;
    }
    EXPECT_NEAR(histogram.Percentile(p), exact, exact * 0.0026) << "p" << p;
  }
  EXPECT_EQ(histogram.count(), 200'000u);
}

TEST(LatencyHistogramTest, ItsSizeDoesNotDependOnHowManyLatenciesItHolds) {
  // The bound: kBuckets counters, whatever the number recorded.
  static_assert(sizeof(LatencyHistogram) <= 34 * 1024);
  LatencyHistogram histogram;
  for (int i = 0; i < 1'000'000; ++i) {
    histogram.Record(2.5);
  }
  EXPECT_NEAR(histogram.Percentile(0.99), 2.5, 2.5 * 0.0026);
}

TEST(LatencyHistogramTest, ValuesOutsideItsRangeCountAtItsEnds) {
  LatencyHistogram histogram;
  EXPECT_EQ(histogram.Percentile(0.5), 0);
  histogram.Record(0);
  histogram.Record(-1);
  histogram.Record(1e9);
  EXPECT_LT(histogram.Percentile(0.0), LatencyHistogram::kMinMs * 1.01);
  EXPECT_GT(histogram.Percentile(1.0), LatencyHistogram::kMaxMs * 0.99);
}

}  // namespace
}  // namespace agentbudget::authority
