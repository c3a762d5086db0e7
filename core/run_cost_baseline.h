#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

namespace agentbudget::core {

// The cost of a workflow's recent runs, to tell a run that costs far more than usual: the
// median of the last kWindow finished runs. Memory is constant: kWindow runs, each its id
// and cost. Not thread-safe: the owner serialises calls.
class RunCostBaseline {
 public:
  static constexpr size_t kWindow = 50;
  // Runs needed before one is judged: a median of fewer says little.
  static constexpr size_t kMinRuns = 5;

  struct Judgement {
    bool anomalous = false;
    int64_t median = 0;  // of the runs before this one
    size_t runs = 0;     // how many the median is over
  };

  // Judges run `run` costing `cost` (micro-dollars) against the median of the runs before
  // it: anomalous when cost × 100 > median × `multiple_percent` (300: three times the
  // median). Then adds it to the window, the oldest run leaving a full one. nullopt, and
  // nothing added, for a run already in the window (reported again); nullopt, the run
  // added, while fewer than kMinRuns came before it.
  std::optional<Judgement> Judge(const std::string& run, int64_t cost, int multiple_percent);

  size_t size() const { return runs_.size(); }

 private:
  struct Run {
    std::string id;
    int64_t cost = 0;
  };
  int64_t Median() const;

  std::deque<Run> runs_;  // oldest first
};

}  // namespace agentbudget::core
