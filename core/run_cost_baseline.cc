#include "core/run_cost_baseline.h"

#include <algorithm>
#include <vector>

#include "core/money.h"

namespace agentbudget::core {

int64_t RunCostBaseline::Median() const {
  std::vector<int64_t> costs;
  costs.reserve(runs_.size());
  for (const Run& run : runs_) {
    costs.push_back(run.cost);
  }
  // The lower median for an even count: a baseline that errs low flags sooner.
  const auto middle = costs.begin() + static_cast<long>((costs.size() - 1) / 2);
  std::nth_element(costs.begin(), middle, costs.end());
  return *middle;
}

std::optional<RunCostBaseline::Judgement> RunCostBaseline::Judge(const std::string& run,
                                                                 int64_t cost,
                                                                 int multiple_percent) {
  if (std::any_of(runs_.begin(), runs_.end(), [&](const Run& r) { return r.id == run; })) {
    return std::nullopt;
  }
  std::optional<Judgement> judgement;
  if (runs_.size() >= kMinRuns) {
    judgement = Judgement{};
    judgement->median = Median();
    judgement->runs = runs_.size();
    judgement->anomalous = SaturatingMultiply(cost, 100) >
                           SaturatingMultiply(judgement->median, multiple_percent);
  }
  runs_.push_back({run, cost});
  if (runs_.size() > kWindow) {
    runs_.pop_front();
  }
  return judgement;
}

}  // namespace agentbudget::core
