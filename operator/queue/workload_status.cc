#include "operator/queue/workload_status.h"

#include <cstdio>

#include "core/money.h"

namespace agentbudget::queue {
namespace {

// 128-bit intermediates for products of micro-dollars, sizes and seconds.
__extension__ using Int128 = __int128;

// part/whole in percent, one decimal, rounded half up, in integers.
std::string Percent(int64_t part, int64_t whole) {
  const Int128 tenths = (static_cast<Int128>(part) * 1000 * 2 + whole) / (2 * whole);
  char text[48];
  std::snprintf(text, sizeof(text), "%lld.%lld", static_cast<long long>(tenths / 10),
                static_cast<long long>(tenths % 10));
  return text;
}

}  // namespace

nlohmann::json WorkloadStatus(const nlohmann::json& old_status, const WorkloadTally& tally,
                              int64_t generation) {
  nlohmann::json status = old_status.is_object() ? old_status : nlohmann::json::object();
  status["observedGeneration"] = generation;
  status["activeRuns"] = tally.active;
  status["queuedRuns"] = tally.queued;
  status["admittedRuns"] = tally.admitted;
  if (tally.finished > 0) {
    status["successRate"] = Percent(tally.succeeded, tally.finished);
  }
  if (tally.succeeded > 0) {
    status["costPerSuccessfulRun"] =
        core::Money::FromMicros(tally.succeeded_spend_micros / tally.succeeded).ToString();
  }
  if (tally.all_tokens > 0) {
    status["tokenYield"] = Percent(tally.good_tokens, tally.all_tokens);
  }
  return status;
}

}  // namespace agentbudget::queue
