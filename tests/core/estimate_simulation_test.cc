// A unit-level simulation of the reservation estimate as the meter ships it
// (core::EstimateRequest with one core::OutputHistory per run, as meter/proxy.cc keeps one
// per meter): agents that send max_tokens 128000 on every call run against one budget until
// they are denied. Against it, reserving the worst case (the request's own max_tokens). A
// false denial is a denied call whose actual cost would have fit in what was left;
// overshoot is committed spend past the limit. The rows printed are docs/authority.md's
// table ("Estimates"):
//   scripts/build sanitize core_test &&
//   build/sanitize/tests/core/core_test --gtest_filter='EstimateSimulation*'
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

#include "core/budget_decision.h"
#include "core/money.h"
#include "core/pricing.h"
#include "core/request_estimate.h"
#include "tests/core/sonnet_rate.h"

namespace agentbudget::core {
namespace {

constexpr int64_t kMaxTokens = 128000;
constexpr int64_t kLimitMicros = 200'000'000;  // $200
constexpr int kAgents = 16;
constexpr uint64_t kSeeds = 20;

enum class Policy { kWorstCase, kMeter };

struct Outcome {
  int calls = 0;
  int denials = 0;
  int false_denials = 0;
  int64_t overshoot_micros = 0;  // the largest of any seed
  int64_t spent_micros = 0;
};

// Output tokens of honest agent calls: log-normal, median ~700, a long tail to ~30k.
int64_t SampleOutput(std::mt19937_64& random) {
  std::lognormal_distribution<double> output(6.55, 1.1);
  return std::clamp<int64_t>(static_cast<int64_t>(output(random)), 1, kMaxTokens);
}

// One agent: its context so far, its run's output history (the meter's), its call in flight.
struct Agent {
  int64_t context = 20000;
  OutputHistory history{kInitialTypicalOutput};
  bool active = false;
  bool stopped = false;
  int64_t estimate = 0;
  int64_t actual = 0;
  int64_t output = 0;
};

Outcome Simulate(Policy policy, uint64_t seed) {
  std::mt19937_64 random(seed);
  const ModelRate rate = testing::SonnetRate();  // $3 in, $15 out per million
  BudgetSpec budget = ParseAgentBudget(nlohmann::json{
      {"metadata", {{"name", "sim"}}},
      {"spec", {{"limit", {{"amount", Money::FromMicros(kLimitMicros).ToString()}}},
                {"pressure", {{"degradeAt", 100}, {"queueAt", 100}}}}}}).value();
  Outcome outcome;
  int64_t reserved = 0;
  std::vector<Agent> agents(kAgents);
  int running = kAgents;
  for (int step = 0; running > 0 && step < 1'000'000; ++step) {
    Agent& agent = agents[static_cast<size_t>(step % kAgents)];
    if (agent.stopped) {
      continue;
    }
    if (agent.active) {  // its call in flight completes: commit, and the meter learns
      reserved -= agent.estimate;
      outcome.spent_micros += agent.actual;
      agent.history.Add(agent.output);
      agent.active = false;
    }
    const int64_t output = SampleOutput(random);
    agent.context = std::min<int64_t>(agent.context + output + 2000, 180000);
    // The request as Claude Code sends it: the whole context, max_tokens 128000.
    const nlohmann::json body = {{"model", rate.id}, {"max_tokens", kMaxTokens}};
    const size_t body_bytes = static_cast<size_t>(agent.context) * 4;
    const int64_t typical = policy == Policy::kMeter ? agent.history.typical() : kMaxTokens;
    const Usage estimate = EstimateRequest(Api::kAnthropicMessages, body, body_bytes, typical);
    Usage actual_usage;
    actual_usage.input = agent.context;
    actual_usage.output = output;
    const int64_t estimate_micros = PriceUsage(rate, estimate).micros();
    const int64_t actual_micros = PriceUsage(rate, actual_usage).micros();
    DecisionRequest request;
    request.model = rate.id;
    request.estimate_micros = estimate_micros;
    request.envelopes.push_back({"budget sim", &budget, outcome.spent_micros, reserved, 0});
    ++outcome.calls;
    if (Decide(request).decision == Decision::kDeny) {
      ++outcome.denials;
      int64_t in_flight_actual = 0;
      for (const Agent& other : agents) {
        in_flight_actual += other.active ? other.actual : 0;
      }
      if (outcome.spent_micros + in_flight_actual + actual_micros <= kLimitMicros) {
        ++outcome.false_denials;
      }
      // Agents stop at a denial: it is a non-retryable error.
      agent.stopped = true;
      --running;
      continue;
    }
    reserved += estimate_micros;
    agent.active = true;
    agent.estimate = estimate_micros;
    agent.actual = actual_micros;
    agent.output = output;
  }
  for (const Agent& agent : agents) {
    outcome.spent_micros += agent.active ? agent.actual : 0;
  }
  outcome.overshoot_micros = std::max<int64_t>(0, outcome.spent_micros - kLimitMicros);
  return outcome;
}

// Sums over the seeds, and prints the policy's row of docs/authority.md's table.
Outcome RunPolicy(Policy policy) {
  Outcome total;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    const Outcome one = Simulate(policy, seed);
    total.calls += one.calls;
    total.denials += one.denials;
    total.false_denials += one.false_denials;
    total.overshoot_micros = std::max(total.overshoot_micros, one.overshoot_micros);
    total.spent_micros += one.spent_micros;
  }
  std::printf("| %s | %d | %d | %d (%d%%) | $%s | %.1f%% |\n",
              policy == Policy::kMeter ? "the meter's (`core::EstimateRequest`, EWMA of the run's outputs)"
                                       : "`max_tokens` (128000)",
              total.calls, total.denials, total.false_denials,
              total.denials == 0 ? 0 : 100 * total.false_denials / total.denials,
              Money::FromMicros(total.overshoot_micros).ToFixed(2).c_str(),
              100.0 * static_cast<double>(total.spent_micros) /
                  (static_cast<double>(kSeeds) * kLimitMicros));
  return total;
}

TEST(EstimateSimulationTest, WorstCaseEstimatesDenyMostHonestFinalCalls) {
  const Outcome worst = RunPolicy(Policy::kWorstCase);
  EXPECT_GT(worst.false_denials * 2, worst.denials);
  EXPECT_EQ(worst.overshoot_micros, 0);
}

TEST(EstimateSimulationTest, TheMetersEstimateDeniesFewerHonestCallsAndBarelyOvershoots) {
  const Outcome meter = RunPolicy(Policy::kMeter);
  EXPECT_LT(meter.false_denials * 4, meter.denials) << "under a quarter of denials are false";
  // Below its average, a call's output tail can exceed the estimate: the overshoot stays
  // within a few calls' worth of tail, under 1% of the $200 limit.
  EXPECT_LT(meter.overshoot_micros, 2'000'000);
}

}  // namespace
}  // namespace agentbudget::core
